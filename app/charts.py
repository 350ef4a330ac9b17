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


SERIES_LAYOUTS = ("one region", "small multiples")
MAX_SMALL_MULTIPLES = 16
"""Most regions drawn as small multiples (one panel each); more are cut with a note in the title."""


def _period_axis(periods: pd.Series) -> pd.Series:
    """Periods as x values: years as numbers, ``YYYY-MM`` months as dates (gaps keep their width)."""
    text = periods.astype(str)
    if text.str.fullmatch(r"\d{4}-\d{2}").all():
        return pd.to_datetime(text + "-01")
    return pd.to_numeric(text, errors="coerce")


def time_series(
    table: pd.DataFrame,
    indicator: str,
    *,
    regions: list[str] | None = None,
    products: list[str] | None = None,
    layout: str = "one region",
) -> go.Figure:
    """One indicator over time, readable: one region (a line per product) or small multiples.

    Args:
        table: tidy rows of several dates (``period`` column from :func:`deeplight.report.series_table`,
            else ``year``); masked values (no valid data) are NaN and drawn as gaps, never as zero.
        indicator: the indicator.
        regions: regions to draw (``"one region"``: the first one only); None = all.
        products: products to draw (LR / SR / HR toggles); None = all.
        layout: ``"one region"`` or ``"small multiples"`` (one panel per region, shared y axis).
    """
    if layout not in SERIES_LAYOUTS:
        raise ValueError(f"layout {layout!r}: one of {SERIES_LAYOUTS}")
    frame = table[table["indicator"] == indicator].copy()
    if "period" not in frame.columns:
        frame = frame.dropna(subset=["year"])
        frame["period"] = frame["year"].astype(int).astype(str)
    if products is not None:
        frame = frame[frame["product"].isin(products)]
    present = list(dict.fromkeys(frame["region"]))
    names = present if regions is None else [r for r in regions if r in set(present)]
    if layout == "one region":
        names = names[:1]
    cut = len(names) > MAX_SMALL_MULTIPLES
    names = names[:MAX_SMALL_MULTIPLES]
    frame = frame[frame["region"].isin(names)]
    frame["x"] = _period_axis(frame["period"])
    frame = frame.sort_values("x")
    monthly = pd.api.types.is_datetime64_any_dtype(frame["x"])
    unit = frame["unit"].iloc[0] if len(frame) else ""
    label = f"{indicator} ({unit})" if unit else indicator
    masked = int(frame["masked"].sum()) if "masked" in frame.columns else 0
    common = {
        "x": "x",
        "y": "value",
        "color": "product",
        "markers": True,
        "color_discrete_map": PRODUCT_COLORS,
        "category_orders": {"product": ["lr", "sr", "hr"], "region": names},
        "labels": {"value": label, "x": "month" if monthly else "year", "product": "product", "region": "region"},
        "hover_data": {"period": True, "region": True, "x": False},
    }
    if layout == "one region" or len(names) <= 1:
        title = f"{indicator} over time: {names[0] if names else 'no region'} ({unit})"
        fig = px.line(frame, **common, title=title)
    else:
        columns = min(4, len(names))
        rows = -(-len(names) // columns)
        fig = px.line(
            frame,
            **common,
            facet_col="region",
            facet_col_wrap=columns,
            facet_row_spacing=min(0.08, 0.5 / max(rows, 1)),
            title=f"{indicator} over time, one panel per region ({unit})"
            + (f"; first {MAX_SMALL_MULTIPLES} regions" if cut else ""),
            height=max(320, 230 * rows),
        )
        fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
        # each panel on its own y range (from 0): a small district's change stays visible
        fig.update_yaxes(title_text="", matches=None, showticklabels=True)
    if masked:
        fig.add_annotation(
            text=f"{masked} value(s) masked (no valid data / cloud-free coverage): gaps, not zeros",
            xref="paper", yref="paper", x=0, y=1.06, showarrow=False, font={"size": 11}, xanchor="left",
        )
    fig.update_traces(connectgaps=False)
    fig.update_yaxes(rangemode="tozero")  # a flat series stays flat, not zoomed to its 5th digit
    if len(frame) and not monthly:
        span = float(frame["x"].max() - frame["x"].min())
        fig.update_xaxes(tickformat="d", dtick=max(1, round(span / 10)))  # whole years, no "2,020.5"
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


def cell_map(values: np.ndarray, title: str, unit: str) -> go.Figure:
    """A per-cell raster (e.g. disaggregated CO2) as a heatmap, NaN transparent, square cells."""
    finite = values[np.isfinite(values)]
    top = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    fig = px.imshow(
        values,
        color_continuous_scale="Inferno",
        zmin=0.0,
        zmax=top if top > 0 else 1.0,
        labels={"color": unit},
        title=title,
        aspect="equal",
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(plot_bgcolor="rgba(0,0,0,0)")
    return fig
