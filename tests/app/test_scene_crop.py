"""Cropping a scene to a region keeps the LR/HR grids aligned (HR exactly 8x the LR crop)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import box

from deeplight.io.scene import Scene, crop_scene, whole_scene_region
from deeplight.errors import RegionError

CRS_UTM = CRS.from_epsg(32650)
HR_TRANSFORM = Affine(100.0, 0, 0.0, 0, -100.0, 0.0)


def _scene() -> Scene:
    lr = np.arange(20 * 30, dtype=np.float32).reshape(20, 30) % 63
    hr = np.arange(160 * 240, dtype=np.float32).reshape(160, 240)
    regions = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[box(2000, -5000, 6000, -1000), box(9e6, 9e6, 9.1e6, 9.1e6)],
        crs=CRS_UTM,
    )
    return Scene(
        key="t",
        title="test",
        lr=lr,
        hr=hr,
        crs=CRS_UTM,
        hr_transform=HR_TRANSFORM,
        lr_simulated=True,
        regions=regions,
    )


def test_crop_is_aligned_on_lr_pixels_with_margin():
    scene = _scene()
    crop = crop_scene(scene, scene.region_geometry("a"), "a", margin_lr=1)
    lr_h, lr_w = crop.scene.lr.shape
    assert crop.scene.hr.shape == (8 * lr_h, 8 * lr_w)
    # x 2000..6000 m = LR cols 2.5..7.5 (800 m pixels) -> cols 1..9 with the 1-pixel margin;
    # y -1000..-5000 m = LR rows 1.25..6.25 -> rows 0..8
    assert (lr_h, lr_w) == (8, 8)
    assert crop.scene.hr_transform.c == pytest.approx(800.0)
    assert crop.scene.lr_transform.a == pytest.approx(800.0)
    np.testing.assert_array_equal(crop.scene.hr, scene.hr[0:64, 8:72])
    inside = crop.mask.sum() * 100 * 100
    assert inside == pytest.approx(4000 * 4000, rel=0.01)


def test_region_outside_the_scene_is_a_clear_error():
    scene = _scene()
    with pytest.raises(RegionError, match="does not overlap"):
        crop_scene(scene, scene.region_geometry("b"), "b")
    with pytest.raises(RegionError, match="not found"):
        scene.region_geometry("nowhere")


def test_whole_scene_region_covers_the_raster():
    frame = whole_scene_region(CRS_UTM, HR_TRANSFORM, (160, 240), "all")
    assert frame.geometry.iloc[0].bounds == (0.0, -16000.0, 24000.0, 0.0)


def test_too_large_region_is_refused_with_advice():
    scene = _scene()
    with pytest.raises(RegionError, match="more than the dashboard's.*deeplight predict"):
        crop_scene(scene, scene.region_geometry("a"), "a", max_hr_pixels=1000)
