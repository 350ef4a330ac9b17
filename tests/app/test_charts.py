"""Plotly figures of the SDG page: the choropleth must draw offline (no geo subplot, no topojson)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import MultiPolygon, box

from app.charts import choropleth


def _table() -> pd.DataFrame:
    rows = [("West", 1.0), ("East", 3.0), ("Islands", 2.0)]
    return pd.DataFrame(
        {"region": [r for r, _ in rows], "product": "sr", "indicator": "lit_area", "value": [v for _, v in rows],
         "unit": "km2", "simulated": False}
    )


def test_choropleth_fills_every_polygon_with_its_value_colour_and_needs_no_geo_subplot():
    regions = gpd.GeoDataFrame(
        {"name": ["West", "East", "Islands", "Empty"]},
        geometry=[box(0, 30, 1, 31), box(1, 30, 2, 31), MultiPolygon([box(3, 30, 3.2, 30.2), box(3.5, 30, 3.7, 30.2)]),
                  box(5, 30, 6, 31)],
        crs="EPSG:4326",
    )
    fig = choropleth(_table(), regions, "lit_area", "sr")
    filled = [t for t in fig.data if t.fill == "toself"]
    assert len(filled) == 5  # West, East, two island parts, and the region without a value
    colours = {t.name: t.fillcolor for t in filled}
    assert colours["West"] != colours["East"] != colours["Islands"]
    assert colours["Empty"].startswith("rgba(128,128,128")  # no value: neutral grey, not a scale colour
    assert "km2" in fig.layout.title.text and "lit_area" in fig.layout.title.text
    colourbar = [t for t in fig.data if t.marker is not None and t.marker.showscale]
    assert colourbar and colourbar[0].marker.cmin == 1.0 and colourbar[0].marker.cmax == 3.0
    assert not any(t.type in {"choropleth", "scattergeo"} for t in fig.data)
    assert fig.layout.yaxis.scaleratio > 1.1  # longitude degrees shrink at 30 N


def test_choropleth_of_a_single_region_uses_the_middle_colour():
    regions = gpd.GeoDataFrame({"name": ["West"]}, geometry=[box(0, 30, 1, 31)], crs="EPSG:4326")
    fig = choropleth(_table().iloc[:1], regions, "lit_area", "sr")
    colourbar = [t for t in fig.data if t.marker is not None and t.marker.showscale][0]
    assert colourbar.marker.cmin < 1.0 < colourbar.marker.cmax
    from plotly.colors import sample_colorscale

    assert fig.data[0].fillcolor == sample_colorscale("Inferno", [0.5])[0]
