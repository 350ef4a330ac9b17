"""The SDG page's downloads carry units and metadata (issue 13 item 6): GeoJSON and GeoPackage read
back with geopandas / json, the CSV header, and the demo's honest labels (synthetic HR, LR simulated
from it) next to a real data set's (real HR, LR simulated from the real image)."""

from __future__ import annotations

import dataclasses
import io
import json

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from deeplight.sdg.export import read_indicators_csv


@pytest.fixture(scope="module")
def demo_outputs(tiny_home):
    """Indicators of two demo regions with an SR (the HR itself stands in), and the export metadata."""
    from shapely.ops import unary_union

    from deeplight.io.scene import crop_scene
    from app.sdg_view import Thresholds, export_metadata, scene_report, region_table
    from deeplight.catalog import load_demo_scene

    scene = load_demo_scene(tiny_home / "demo")
    names = list(scene.regions["name"].iloc[:2])
    geometries = [scene.region_geometry(n) for n in names]
    crop = crop_scene(scene, unary_union(geometries), "two")
    regions = region_table(names, geometries, scene.crs)
    thresholds = Thresholds(lit_radiance=2.0, co2_total=1000.0, co2_unit="kt CO2")
    with pytest.warns(UserWarning):  # the population is reprojected (said in the metadata's issues)
        table = scene_report(crop.scene, crop.scene.hr, None, regions, thresholds, "test-model").table
    return crop.scene, regions, table, thresholds, export_metadata(crop.scene, "test-model", thresholds)


def test_demo_metadata_says_synthetic_hr_and_lr_simulated_from_it(demo_outputs, tmp_path):
    from app.sdg_view import csv_bytes

    scene, _, table, thresholds, metadata = demo_outputs
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes(table, scene, "test-model", thresholds))
    frame, header = read_indicators_csv(path)
    hr = header["products"]["hr"]
    assert hr["simulated"] is True and hr["synthetic"] is True  # never "simulated: false" for the demo HR
    assert "generated" in hr["origin"]
    assert header["synthetic_products"] == ["hr"] and header["hr_synthetic"] is True
    assert set(header["simulated_products"]) == {"lr", "sr", "hr"}
    assert frame.loc[frame["product"] == "hr", "simulated"].all()
    text = json.dumps(header)
    assert "made from the real image" not in text
    assert "from the synthetic HR" in header["provenance"]["lr"]
    assert "synthetic" in header["provenance"]["hr"] and "test-model" in header["provenance"]["sr"]
    assert "generated synthetically" in header["simulated_note"]
    assert header["settings"]["co2_unit"] == "kt CO2"
    assert header["settings"]["lit_radiance"] == 2.0
    assert metadata["dataset"] == "Built-in demo (synthetic)"


def test_real_data_labels_are_kept(demo_outputs):
    """A real data set (HR observed, LR simulated from it) keeps its labels: no "synthetic" anywhere."""
    from app.sdg_view import Thresholds, export_metadata, scene_report
    from deeplight.sdg.export import indicators_metadata

    scene, regions, _, _, _ = demo_outputs
    real = dataclasses.replace(scene, key="real|x", title="Real place", hr_synthetic=False, notes=())
    with pytest.warns(UserWarning):
        table = scene_report(real, real.hr, None, regions, Thresholds(), "test-model").table
    assert not table.loc[table["product"] == "hr", "simulated"].any()
    assert table.loc[table["product"] == "lr", "simulated"].all()
    metadata = indicators_metadata(table, export_metadata(real, "test-model"))
    assert metadata["products"]["hr"]["simulated"] is False and "synthetic" not in metadata["products"]["hr"]
    assert "synthetic_products" not in metadata and metadata["hr_synthetic"] is False
    assert "from the data set's HR image" in metadata["provenance"]["lr"]
    assert metadata["simulated_note"].startswith("SIMULATED") and "synthetic" not in metadata["simulated_note"]


def test_geojson_has_unit_names_and_a_metadata_member(demo_outputs):
    from app.sdg_view import geo_bytes

    scene, regions, table, _, metadata = demo_outputs
    data = geo_bytes(table, regions, "GeoJSON", metadata)
    collection = json.loads(data)
    meta = collection["metadata"]
    assert meta["dataset"] == scene.title and meta["sr_model"] == "test-model"
    assert meta["simulated_note"].startswith("SIMULATED")
    assert set(meta["simulated_products"]) == {"lr", "sr", "hr"}
    assert meta["thresholds"]["lit_radiance_nW_cm2_sr"] == 2.0
    assert meta["provenance"]["hr"].startswith("synthetic")
    units = meta["column_units"]
    assert units["sr_sum_of_lights_nW_cm2_sr_x_km2"] == "nW/cm2/sr x km2"
    assert units["hr_lit_area_km2"] == "km2" and units["lr_lit_share"] == "share"
    assert units["sr_co2_emissions_kt_CO2"] == "kt CO2"
    back = gpd.read_file(io.BytesIO(data))
    assert back.crs.to_epsg() == 4326 and len(back) == 2
    expected = {"hr_lit_area_km2", "sr_mean_radiance_nW_cm2_sr", "lr_simulated", "hr_simulated"}
    assert expected <= set(back.columns)
    assert set(units) == set(back.columns) - {"region", "geometry"}
    row = table[(table["product"] == "sr") & (table["indicator"] == "lit_area")].set_index("region")["value"]
    for name, value in zip(back["region"], back["sr_lit_area_km2"]):
        assert value == pytest.approx(row[name])
    assert bool(back["lr_simulated"].all()) and bool(back["hr_simulated"].all())  # demo: synthetic HR


def test_geopackage_has_metadata_and_columns_tables(demo_outputs, tmp_path):
    from app.sdg_view import geo_bytes

    _, regions, table, _, metadata = demo_outputs
    path = tmp_path / "x.gpkg"
    path.write_bytes(geo_bytes(table, regions, "GPKG", metadata))
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert layers == {"indicators", "metadata", "columns"}
    polygons = gpd.read_file(path, layer="indicators")
    assert polygons.crs.to_epsg() == 4326 and "sr_sum_of_lights_nW_cm2_sr_x_km2" in polygons.columns
    meta_rows = gpd.read_file(path, layer="metadata")
    assert isinstance(meta_rows, pd.DataFrame) and list(meta_rows.columns) == ["key", "value"]
    meta = {k: json.loads(v) for k, v in zip(meta_rows["key"], meta_rows["value"])}
    assert meta["products"]["hr"]["synthetic"] is True and meta["sr_model"] == "test-model"
    assert "SIMULATED" in meta["simulated_note"] and meta["credits"]
    columns = gpd.read_file(path, layer="columns").set_index("column")
    assert columns.loc["hr_lit_area_km2", "unit"] == "km2"
    assert columns.loc["sr_sum_of_lights_nW_cm2_sr_x_km2", "indicator"] == "sum_of_lights"
    assert bool(columns.loc["lr_lit_area_km2", "simulated"]) is True
    assert set(columns.index) == set(polygons.columns) - {"region", "geometry"}
