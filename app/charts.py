"""Plotly figures of the SDG page (pure functions of the tidy indicator table)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

PRODUCT_COLORS = {"lr": "#8c8c8c", "sr": "#f28e2b", "hr": "#4e79a7"}
PRODUCT_LABELS = {"lr": "LR (DMSP-like)", "sr": "SR (reconstructed)", "hr": "HR (reference)"}


def _label(table: pd.DataFrame) -> pd.DataFrame:
    frame = table.copy()
    frame["product_label"] = [
        PRODUCT_LABELS.get(p, p) + (" - simulated" if s and p == "lr" else "")
        for p, s in zip(frame["product"], frame["simulated"].astype(bool))
    ]
    return frame


def indicator_bars(table: pd.DataFrame, indicator: str) -> go.Figure:
    """LR / SR / HR values of one indicator, grouped by region."""
    frame = _label(table[table["indicator"] == indicator])
    unit = frame["unit"].iloc[0] if len(frame) else ""
    fig = px.bar(
        frame,
        x="region",
        y="value",
        color="product",
        barmode="group",
        color_discrete_map=PRODUCT_COLORS,
        hover_data=["product_label", "method"],
        error_y=(frame["upper"] - frame["value"]) if frame["upper"].notna().any() else None,
        labels={"value": f"{indicator} ({unit})", "region": "region", "product": "product"},
        title=f"{indicator} on LR, SR and HR ({unit})",
    )
    return fig


def time_series(table: pd.DataFrame, indicator: str) -> go.Figure:
    """One indicator over the years, one line per region x product."""
    frame = table[table["indicator"] == indicator].dropna(subset=["year"]).sort_values("year")
    unit = frame["unit"].iloc[0] if len(frame) else ""
    fig = px.line(
        frame,
        x="year",
        y="value",
        color="product",
        line_dash="region",
        markers=True,
        color_discrete_map=PRODUCT_COLORS,
        labels={"value": f"{indicator} ({unit})"},
        title=f"{indicator} over the years ({unit})",
    )
    return fig


def sr_vs_hr_scatter(table: pd.DataFrame, indicator: str) -> go.Figure:
    """SR against HR for one indicator, one point per region (and year), with the 1:1 line."""
    frame = table[table["indicator"] == indicator]
    wide = frame.pivot_table(
        index=["region", "year"], columns="product", values="value", aggfunc="first", dropna=False
    ).reset_index()
    unit = frame["unit"].iloc[0] if len(frame) else ""
    if not {"sr", "hr"} <= set(wide.columns):
        return go.Figure().update_layout(title="SR vs HR needs both an SR and an HR product")
    fig = px.scatter(
        wide,
        x="hr",
        y="sr",
        hover_name="region",
        hover_data=["year"],
        labels={"hr": f"HR {indicator} ({unit})", "sr": f"SR {indicator} ({unit})"},
        title=f"SR vs HR: {indicator} per region",
    )
    lo = float(min(wide["hr"].min(), wide["sr"].min()))
    hi = float(max(wide["hr"].max(), wide["sr"].max()))
    fig.add_trace(
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="1:1", line={"dash": "dot", "color": "#aaaaaa"})
    )
    return fig


def choropleth(table: pd.DataFrame, regions: gpd.GeoDataFrame, indicator: str, product: str) -> go.Figure:
    """Map of one indicator of one product over the regions, drawn as filled polygons.

    Plain cartesian traces in longitude/latitude (no plotly ``geo`` subplot): plotly.js fetches the
    world topojson of a geo subplot from a CDN, which leaves the map blank offline; filled polygons
    need nothing but the page.
    """
    frame = table[(table["indicator"] == indicator) & (table["product"] == product)]
    unit = frame["unit"].iloc[0] if len(frame) else ""
    values = dict(zip(frame["region"], frame["value"].astype(float)))
    geo = regions[["name", "geometry"]].to_crs("EPSG:4326")
    finite = [v for v in values.values() if np.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi <= lo:  # one value (or all equal): centre it on a small range so it gets the middle colour
        pad = 0.5 * abs(lo) if lo else 0.5
        lo, hi = lo - pad, hi + pad
    span = hi - lo
    label = f"{indicator} ({unit})"
    fig = go.Figure()
    for name, geometry in zip(geo["name"], geo.geometry):
        if geometry is None or geometry.is_empty:
            continue
        value = values.get(name, np.nan)
        color = (
            sample_colorscale("Inferno", [(value - lo) / span])[0] if np.isfinite(value) else "rgba(128,128,128,0.3)"
        )
        polygons = list(getattr(geometry, "geoms", [geometry]))
        for index, polygon in enumerate(polygons):
            if polygon.geom_type != "Polygon":
                continue
            x, y = polygon.exterior.coords.xy
            fig.add_trace(
                go.Scatter(
                    x=list(x), y=list(y), fill="toself", fillcolor=color, mode="lines",
                    line={"color": "#dddddd", "width": 0.7}, name=str(name), legendgroup=str(name),
                    showlegend=False, hoverinfo="text",
                    text=f"{name}: {value:.4g} {unit}" if np.isfinite(value) else f"{name}: no data",
                )
            )
    fig.add_trace(  # an invisible marker trace carries the colour bar
        go.Scatter(
            x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
            marker={"colorscale": "Inferno", "cmin": lo, "cmax": hi, "color": [lo],
                    "showscale": True, "colorbar": {"title": {"text": label}}},
        )
    )
    fig.update_layout(title=f"{PRODUCT_LABELS.get(product, product)}: {label}", plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(visible=False)
    mean_lat = float(np.mean(geo.total_bounds[[1, 3]])) if len(geo) else 0.0
    # one degree of latitude is 1 / cos(latitude) degrees of longitude long on the ground
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1.0 / max(np.cos(np.radians(mean_lat)), 0.1))
    return fig
