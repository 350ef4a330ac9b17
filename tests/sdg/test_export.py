"""Export: CSV bytes with a # metadata header that pandas reads back, JSON sidecar, GeoJSON/GPKG."""

import io
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from deeplight.errors import DeepLightError
from deeplight.sdg import (
    TIDY_COLUMNS,
    compute_indicators,
    indicators_to_csv_bytes,
    indicators_to_geodataframe,
    load_regions,
    read_indicators_csv,
    write_geo,
    write_indicators,
)
from tests.sdg.helpers import cell_box, regions_frame, write_raster


@pytest.fixture
def table_and_regions(tmp_path):
    values = np.arange(16, dtype=float).reshape(4, 4)
    hr = write_raster(tmp_path / "hr.tif", values)
    lr = write_raster(tmp_path / "lr.tif", values, tags={"simulated": "true"})
    regions = load_regions(regions_frame({"Nord": cell_box(0, 0, 2, 4), "Süd": cell_box(2, 0, 4, 4)}))
    table = compute_indicators(
        {"lr": lr, "hr": hr},
        regions,
        year=2018,
        units={"lr": "nW/cm2/sr"},
        model_info={"model": "deeplight_sr", "checkpoint": "ckpt/best"},
    )
    return table, regions


def test_csv_bytes_are_pure_and_read_back(table_and_regions):
    table, _ = table_and_regions
    data = indicators_to_csv_bytes(table, {"note_from_user": "test"})
    assert data == indicators_to_csv_bytes(table, {"note_from_user": "test"})
    text = data.decode("utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any(line.startswith("# thresholds: ") for line in header)
    assert any("SIMULATED: products lr" in line for line in header)
    assert any('"checkpoint": "ckpt/best"' in line for line in header)
    back = pd.read_csv(io.BytesIO(data), comment="#")
    assert list(back.columns) == list(TIDY_COLUMNS)
    assert len(back) == len(table)
    assert set(back["region"]) == {"Nord", "Süd"}
    assert back.loc[back["product"] == "lr", "simulated"].all()
    assert not back.loc[back["product"] == "hr", "simulated"].any()
    row = back[(back.region == "Nord") & (back.indicator == "sum_of_lights") & (back["product"] == "hr")]
    assert row["value"].iloc[0] == pytest.approx(sum(range(8)), rel=1e-6)


def test_write_indicators_csv_and_sidecar(table_and_regions, tmp_path):
    table, _ = table_and_regions
    csv_path, json_path = write_indicators(table, tmp_path / "out" / "x.csv")
    assert json_path.name == "x.json"
    back, metadata = read_indicators_csv(csv_path)
    assert len(back) == len(table)
    assert metadata["simulated_products"] == ["lr"]
    assert metadata["thresholds"]["lit_radiance_nW_cm2_sr"] == 1.0
    sidecar = json.loads(json_path.read_text(encoding="utf-8"))
    assert sidecar["rows"] == len(table)
    assert sidecar["indicators"]["sum_of_lights"] == "nW/cm2/sr*km2"
    assert sidecar["columns"]["simulated"].startswith("true when")
    assert not list((tmp_path / "out").glob(".*tmp"))  # no temporary file left behind
    with pytest.raises(DeepLightError, match=r"must end in \.csv"):
        write_indicators(table, tmp_path / "x.txt")


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_geo_export_joins_indicators_to_polygons(table_and_regions, tmp_path, suffix):
    table, regions = table_and_regions
    geo = indicators_to_geodataframe(table, regions)
    assert len(geo) == 2
    assert {"hr_sum_of_lights", "lr_lit_area", "lr_simulated"} <= set(geo.columns)
    path = write_geo(geo, tmp_path / f"x{suffix}")
    back = gpd.read_file(path)
    assert back.crs == regions.crs
    nord = back[back["region"] == "Nord"].iloc[0]
    assert nord["hr_sum_of_lights"] == pytest.approx(sum(range(8)), rel=1e-6)
    assert bool(nord["lr_simulated"]) is True
    with pytest.raises(DeepLightError, match="geojson or .gpkg"):
        write_geo(geo, tmp_path / "x.shp")


def test_hash_inside_a_name_survives_the_comment_header(tmp_path):
    table = pd.DataFrame(
        {
            "region": ["District #3"],
            "product": ["hr"],
            "year": [2020],
            "indicator": ["lit_area"],
            "value": [1.5],
            "unit": ["km2"],
            "lower": [np.nan],
            "upper": [np.nan],
            "simulated": [False],
            "method": ["R >= 1 #fixed"],
            "note": [""],
        }
    )
    back = pd.read_csv(io.BytesIO(indicators_to_csv_bytes(table, {"source": "test"})), comment="#")
    assert back["region"].tolist() == ["District #3"]
    assert back["method"].tolist() == ["R >= 1 #fixed"]
    assert back["value"].tolist() == [1.5] and back["year"].tolist() == [2020]
    assert back["simulated"].tolist() == [False] and back["lower"].isna().all()


def test_geo_exports_carry_units_and_metadata(table_and_regions, tmp_path):
    from deeplight.sdg import indicators_to_geojson_bytes, indicators_to_geopackage_bytes

    table, regions = table_and_regions
    collection = json.loads(indicators_to_geojson_bytes(table, regions, {"dataset": "test set"}))
    meta = collection["metadata"]
    assert meta["dataset"] == "test set" and meta["simulated_products"] == ["lr"]
    assert meta["model"]["checkpoint"] == "ckpt/best" and meta["simulated_note"].startswith("SIMULATED")
    properties = collection["features"][0]["properties"]
    assert meta["column_units"]["hr_sum_of_lights_nW_cm2_sr_km2"] == "nW/cm2/sr*km2"
    assert {"hr_sum_of_lights_nW_cm2_sr_km2", "lr_lit_area_km2", "lr_simulated"} <= set(properties)
    path = tmp_path / "x.gpkg"
    path.write_bytes(indicators_to_geopackage_bytes(table, regions, {"dataset": "test set"}))
    back = gpd.read_file(path, layer="indicators")
    assert back.crs == regions.crs  # a GeoPackage keeps the regions' CRS unless asked otherwise
    nord = back[back["region"] == "Nord"].iloc[0]
    assert nord["hr_sum_of_lights_nW_cm2_sr_km2"] == pytest.approx(sum(range(8)), rel=1e-6)
    rows = gpd.read_file(path, layer="metadata")
    assert json.loads(rows.set_index("key").loc["dataset", "value"]) == "test set"


def test_simulated_note_tells_synthetic_from_degraded():
    from deeplight.sdg.export import simulated_note

    note = simulated_note(["hr", "lr", "sr"], ["hr"])
    assert note.startswith("SIMULATED: products lr, sr were made by the degradation model")
    assert "products hr were generated synthetically" in note and note.endswith("not observed by a sensor")
