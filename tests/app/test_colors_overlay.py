"""The shared log colour scale, its legend, and PNG overlays warped to Web Mercator."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from affine import Affine
from PIL import Image
from rasterio.crs import CRS

from app.colors import legend_html, legend_ticks, radiance_to_rgba, rgba_to_png_data_url, shared_vmax
from app.overlay import radiance_overlay, warp_to_web_mercator


def test_shared_vmax_uses_every_array_and_has_a_floor():
    a = np.full((10, 10), 5.0)
    b = np.full((10, 10), 50.0)
    assert shared_vmax(a, b, percentile=100) == pytest.approx(50.0)
    assert shared_vmax(np.zeros((3, 3)), None) == 1.0
    assert shared_vmax(np.full((2, 2), np.nan)) == 1.0


def test_rgba_is_monotonic_on_log_scale_and_nan_is_transparent():
    radiance = np.array([[0.0, 1.0, 10.0, 100.0, np.nan]])
    rgba = radiance_to_rgba(radiance, vmax=100.0)
    brightness = rgba[0, :4, :3].astype(int).sum(axis=1)
    assert np.all(np.diff(brightness) > 0)
    assert rgba[0, 4, 3] == 0 and np.all(rgba[0, :4, 3] == 255)


def test_png_data_url_decodes_to_the_same_pixels():
    rgba = radiance_to_rgba(np.arange(12, dtype=float).reshape(3, 4), vmax=11.0)
    url = rgba_to_png_data_url(rgba)
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    np.testing.assert_array_equal(decoded, rgba)


def test_legend_ticks_are_on_the_log_scale_with_units():
    ticks = legend_ticks(100.0)
    assert ticks[0] == (0, 0.0) and ticks[-1][0] == 100.0 and ticks[-1][1] == pytest.approx(1.0)
    _value, pos = next(t for t in ticks if t[0] == 10)
    assert pos == pytest.approx(math.log1p(10) / math.log1p(100))
    assert "nW/cm²/sr" in legend_html(100.0)


def test_warp_keeps_the_footprint_in_degrees():
    transform = Affine(0.01, 0, 121.0, 0, -0.01, 31.5)  # EPSG:4326, 1 x 1 degree
    array = np.ones((100, 100), dtype=np.float32)
    warped, bounds = warp_to_web_mercator(array, CRS.from_epsg(4326), transform)
    (south, west), (north, east) = bounds
    assert west == pytest.approx(121.0, abs=0.02) and east == pytest.approx(122.0, abs=0.02)
    assert south == pytest.approx(30.5, abs=0.02) and north == pytest.approx(31.5, abs=0.02)
    assert np.isfinite(warped).mean() > 0.95


def test_overlay_from_a_projected_raster():
    transform = Affine(130.0, 0, 500000.0, 0, -130.0, 3500000.0)
    overlay = radiance_overlay(
        np.random.default_rng(0).gamma(1, 5, (64, 64)), CRS.from_epsg(32650), transform, 20.0
    )
    (south, west), (north, east) = overlay.bounds
    assert 116 < west < east < 118 and 31 < south < north < 32
    assert overlay.url.startswith("data:image/png;base64,")


def test_palette_png_matches_the_rgba_colouring():
    from app.colors import radiance_to_png_data_url

    radiance = np.array([[0.0, 0.5, 3.0, 40.0, np.nan, 1000.0]])
    url = radiance_to_png_data_url(radiance, vmax=50.0)
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))
    expected = radiance_to_rgba(radiance, vmax=50.0)
    assert decoded[0, 4, 3] == 0  # nodata transparent
    finite = np.isfinite(radiance[0])
    assert np.all(decoded[0, finite, 3] == 255)
    # same colour map, quantised to 255 levels: at most one level apart
    assert np.abs(decoded[0, finite, :3].astype(int) - expected[0, finite, :3].astype(int)).max() <= 8


@pytest.mark.parametrize("vmax", [1.0, 1.2, 3.3, 9.45, 31.0, 33.0, 61.9, 290.0, 1100.0, 1e5])
def test_legend_labels_never_print_over_each_other(vmax):
    from app.colors import MIN_TICK_GAP

    positions = [pos for _, pos in legend_ticks(vmax)]
    assert positions[0] == 0.0 and positions[-1] == 1.0  # 0 and vmax always labelled
    assert min(b - a for a, b in zip(positions, positions[1:])) >= MIN_TICK_GAP
