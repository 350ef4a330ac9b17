"""The built-in demo scene: files, grids, labels, regions, idempotence."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine

from deeplight.data.demo import DEMO_FILES, make_demo
from deeplight.io import open_scene, read_raster


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("demo"), lr_size=24)


def test_files_grids_and_labels(small_demo):
    folder = small_demo.folder
    assert small_demo.generated
    for name in (*DEMO_FILES, "manifest.json"):
        assert (folder / name).is_file(), name
    lr = read_raster(folder / "lr.tif")
    hr = read_raster(folder / "hr.tif")
    assert lr.shape == (24, 24) and hr.shape == (192, 192)
    assert lr.rio.transform() == hr.rio.transform() @ Affine.scale(8)
    assert hr.rio.resolution() == (130.0, -130.0) and lr.rio.crs.to_epsg() == 32650
    assert lr.attrs["simulated"] == "true" and hr.attrs["synthetic"] == "true"
    assert hr.attrs["fictional"] == "true"
    scene = open_scene(
        folder / "lr.tif",
        hr=folder / "hr.tif",
        dmo=folder / "dmo.tif",
        dem=folder / "dem.tif",
        isp=folder / "isp.tif",
    )
    assert scene.present == {"hr": True, "dmo": True, "dem": True, "isp": True, "population": False}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["synthetic"] and manifest["fictional"] and manifest["simulated_lr"]
    assert manifest["files"]["lr.tif"]["simulated"] is True
    # nothing of the demo is observed: the generated HR is never labelled simulated=false
    assert manifest["files"]["hr.tif"]["simulated"] is True and manifest["files"]["hr.tif"]["synthetic"] is True
    assert hr.attrs["simulated"] == "true"
    assert manifest["lr"]["pixel_size_m"] == 1040.0 and manifest["crs"] == "EPSG:32650"


def test_population_follows_built_up_land(small_demo):
    folder = small_demo.folder
    population = read_raster(folder / "population.tif").values
    isp = read_raster(folder / "isp.tif").values
    assert population.min() >= 0
    assert population.sum() == pytest.approx(small_demo.manifest["population_total"], rel=1e-4)
    assert population[isp > 0.5].mean() > 20 * population[isp < 0.05].mean()


def test_size_change_regenerates(small_demo):
    again = make_demo(small_demo.folder, lr_size=24)
    assert not again.generated
    other = make_demo(small_demo.folder, lr_size=16)
    assert other.generated and read_raster(small_demo.folder / "lr.tif").shape == (16, 16)
    assert make_demo(small_demo.folder, lr_size=24).generated


def test_regions_cover_the_country(small_demo):
    regions = gpd.read_file(small_demo.folder / "regions.geojson")
    assert regions.crs.to_epsg() == 4326
    assert 8 <= len(regions) <= 12 and regions["name"].is_unique
    extent_km2 = (24 * 1.04) ** 2
    projected = regions.to_crs(32650)
    assert projected.area.sum() / 1e6 == pytest.approx(extent_km2, rel=1e-3)
    assert projected.union_all().area / 1e6 == pytest.approx(extent_km2, rel=1e-3)  # no overlaps


@pytest.mark.slow
def test_full_demo_is_idempotent(tmp_path):
    first = make_demo(tmp_path)
    assert first.generated
    assert read_raster(tmp_path / "hr.tif").shape == (1536, 1536)
    assert read_raster(tmp_path / "lr.tif").shape == (192, 192)
    stamps = {name: (tmp_path / name).stat().st_mtime_ns for name in DEMO_FILES}
    second = make_demo(tmp_path)
    assert not second.generated
    assert stamps == {name: (tmp_path / name).stat().st_mtime_ns for name in DEMO_FILES}
    (tmp_path / "isp.tif").unlink()  # a damaged demo is rebuilt
    assert make_demo(tmp_path).generated and (tmp_path / "isp.tif").exists()
    assert np.isfinite(read_raster(tmp_path / "dmo.tif").values).all()
