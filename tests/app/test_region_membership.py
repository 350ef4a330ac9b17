"""One rule for region membership and one region loader, shared by the dashboard and the indicators
(issue 12): the crop's covered fractions are the statistics' exactextract fractions, its yes/no mask is
derived from them, the CO2 cell map weights cells by them, and the data sets' region files go through
``deeplight.io.regions.load_regions`` (errors name the file and the column)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import Polygon, box

from deeplight.io.scene import Scene, crop_scene
from deeplight.errors import RegionError
from deeplight.io.coverage import Grid, membership_mask, region_coverage
from deeplight.io.pixel_area import pixel_area_m2

CRS_GEO = CRS.from_epsg(4326)
STEP = 15 / 3600  # 15 arc-second HR cells, as VIIRS
HR_TRANSFORM = Affine(STEP, 0, 5.0, 0, -STEP, 8.0)


def _scene(geometry) -> Scene:
    rng = np.random.default_rng(3)
    lr = rng.integers(0, 63, (12, 12)).astype(np.float32)
    hr = (rng.random((96, 96)) * 40).astype(np.float32)
    regions = gpd.GeoDataFrame({"name": ["tilted"]}, geometry=[geometry], crs=CRS_GEO)
    return Scene("t", "test", lr, hr, CRS_GEO, HR_TRANSFORM, True, regions)


# a polygon whose edges cut HR cells at every angle
TILTED = Polygon([(5.03, 7.99), (5.31, 7.93), (5.25, 7.71), (5.05, 7.76)])


def test_crop_fractions_are_the_statistics_fractions_and_the_mask_derives_from_them():
    scene = _scene(TILTED)
    crop = crop_scene(scene, TILTED, "tilted", margin_lr=1)
    shape, transform = crop.fraction.shape, crop.scene.hr_transform
    frame = gpd.GeoDataFrame({"region": ["tilted"]}, geometry=[TILTED], crs=CRS_GEO)
    coverage = region_coverage(frame, Grid(shape, transform, CRS_GEO))[0]
    expected = np.zeros(shape[0] * shape[1])
    expected[coverage.cells] = coverage.fraction
    np.testing.assert_allclose(crop.fraction.ravel(), expected)
    assert crop.fraction.min() == 0.0 and crop.fraction.max() == pytest.approx(1.0)  # margin out, core in
    partial = (crop.fraction > 0) & (crop.fraction < 1)
    assert partial.sum() > 50  # the boundary cells carry their covered part, not 0 or 1
    np.testing.assert_array_equal(crop.mask, membership_mask(crop.fraction))
    np.testing.assert_array_equal(crop.mask, crop.fraction >= 0.5)
    # fractions x ellipsoidal cell areas give the polygon's area (what region_area reports)
    area_km2 = float((crop.fraction * pixel_area_m2(transform, CRS_GEO, shape)).sum() / 1e6)
    polygon_km2 = float(frame.to_crs("EPSG:6933").area.iloc[0] / 1e6)
    assert area_km2 == pytest.approx(polygon_km2, rel=1e-3)


def test_a_region_smaller_than_half_a_cell_keeps_the_cells_it_touches():
    small = box(5.1, 7.9, 5.1 + STEP / 4, 7.9 + STEP / 4)
    crop = crop_scene(_scene(small), small, "small", margin_lr=0)
    assert crop.fraction.max() < 0.5
    assert crop.mask.sum() == int((crop.fraction > 0).sum()) >= 1


def test_co2_cell_map_weights_cells_by_covered_fraction_like_the_indicators():
    from app.sdg_view import Thresholds, co2_cell_map, region_table, scene_report

    scene = _scene(TILTED)
    crop = crop_scene(scene, TILTED, "tilted", margin_lr=1)
    cells = co2_cell_map(crop.scene, None, "hr", TILTED, 1000.0)
    assert np.nansum(cells) == pytest.approx(1000.0)
    assert np.isnan(cells[crop.fraction == 0]).all() and np.isfinite(cells[crop.fraction > 0]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = scene_report(
            crop.scene, None, None, region_table(["tilted"], [TILTED], CRS_GEO), Thresholds(), None
        ).table
    tnl = float(table.query("product == 'hr' and indicator == 'sum_of_lights'")["value"].iloc[0])
    # E_i = E R_i A_i c_i / TNL with TNL the region's sum of lights of the table (same c_i, same A_i)
    area = pixel_area_m2(crop.scene.hr_transform, CRS_GEO, crop.fraction.shape) / 1e6
    weights = crop.scene.hr.astype(np.float64) * area * crop.fraction
    inside = crop.fraction > 0
    np.testing.assert_allclose(cells[inside], 1000.0 * weights[inside] / tnl, rtol=1e-6)


def test_data_set_regions_come_through_the_one_loader(tmp_path):
    from deeplight.catalog import _regions_from

    path = tmp_path / "districts.geojson"
    gpd.GeoDataFrame(
        {"Name": ["浦东新区", "Elsewhere", "Elsewhere"], "code": [1, 2, 3]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs="EPSG:4326",
    ).to_file(path)
    regions = _regions_from(path, "Name", CRS.from_epsg(3857))
    assert list(regions.columns) == ["name", "geometry"] and regions.crs == CRS.from_epsg(3857)
    # the loader's rule: names made unique; the data set's own labels kept on top
    assert list(regions["name"]) == ["Pudong (浦东新区)", "Elsewhere", "Elsewhere (2)"]
    with pytest.raises(RegionError, match=r"districts\.geojson has no column 'NAME_1': choose one of Name, code"):
        _regions_from(path, "NAME_1", CRS_GEO)
