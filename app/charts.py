"""Plotly figures of the SDG page (pure functions of the tidy indicator table)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

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
    """Map of one indicator of one product over the regions (no basemap: works offline)."""
    frame = table[(table["indicator"] == indicator) & (table["product"] == product)]
    unit = frame["unit"].iloc[0] if len(frame) else ""
    geo = regions[["name", "geometry"]].to_crs("EPSG:4326")
    geojson = json.loads(geo.to_json())
    for feature in geojson["features"]:
        feature["id"] = feature["properties"]["name"]
    fig = px.choropleth(
        frame,
        geojson=geojson,
        locations="region",
        color="value",
        color_continuous_scale="Inferno",
        labels={"value": f"{indicator} ({unit})"},
        title=f"{PRODUCT_LABELS.get(product, product)}: {indicator} ({unit})",
    )
    fig.update_geos(fitbounds="locations", visible=False)
    return fig
