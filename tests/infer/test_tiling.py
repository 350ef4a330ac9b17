"""Tile layout and blending windows."""

from __future__ import annotations

import numpy as np
import pytest

from deeplight.errors import ConfigError
from deeplight.infer.tiling import (
    blend_window,
    blend_window_1d,
    fitted_tile_length,
    plan_tiles,
    recomputed_share,
    tile_starts,
)


@pytest.mark.parametrize(
    "length,tile,overlap", [(100, 32, 8), (37, 16, 12), (16, 16, 4), (5, 16, 4), (257, 64, 0)]
)
def test_tile_starts_cover_the_axis_with_at_least_the_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    size = fitted_tile_length(length, tile, overlap)
    assert size <= min(tile, length)
    assert starts[0] == 0
    assert starts[-1] + size == length
    gaps = np.diff(starts)
    assert np.all(gaps > 0)
    assert np.all(size - gaps >= overlap)  # consecutive tiles share at least `overlap` pixels


@pytest.mark.parametrize("length", [100, 129, 256, 1000, 1024, 4097])
@pytest.mark.parametrize("tile,overlap", [(128, 16), (64, 8), (256, 32)])
def test_fitted_tiles_overlap_by_little_more_than_the_overlap(length, tile, overlap):
    """The fewest tiles that can cover the axis, and consecutive tiles share overlap..overlap+2 pixels
    (a fixed tile length left e.g. 3 tiles of 128 overlapping by 64 on a 256-pixel axis)."""
    starts = tile_starts(length, tile, overlap)
    size = fitted_tile_length(length, tile, overlap)
    if length <= tile:
        assert starts == [0] and size == length
        return
    assert len(starts) == -(-(length - overlap) // (tile - overlap))
    shared = size - np.diff(starts)
    assert shared.min() >= overlap and shared.max() <= overlap + 2


def test_recomputed_share_of_the_default_layout():
    # LR 256 in tiles of 128 / overlap 16: 3 x 3 tiles of 96 (was 3 x 3 tiles of 128: 2.25x)
    assert fitted_tile_length(256, 128, 16) == 96
    assert recomputed_share(256, 256, 128, 16) == pytest.approx((3 * 96 / 256) ** 2)
    assert recomputed_share(256, 256, 128, 16) < 1.3
    assert recomputed_share(1024, 1024, 256, 16) < 1.14
    assert recomputed_share(100, 100, 128, 16) == 1.0


def test_plan_is_row_major_with_equal_tile_sizes():
    plan = plan_tiles(40, 70, 16, 4)
    assert [t.index for t in plan] == list(range(len(plan)))
    # rows: 3 tiles of 16; columns: 6 tiles of 15 (the fewest of at most 16 that overlap by 4)
    assert {(t.height, t.width) for t in plan} == {(16, 15)}
    assert [(t.row, t.col) for t in plan] == sorted((t.row, t.col) for t in plan)
    covered = np.zeros((40, 70), bool)
    for t in plan:
        covered[t.row : t.row + t.height, t.col : t.col + t.width] = True
    assert covered.all()


@pytest.mark.parametrize(
    "tile,overlap,match",
    [(0, 0, "tile must be a positive"), (8, 8, "smaller than tile"), (8, -1, "overlap must be zero")],
)
def test_bad_tiling_is_a_config_error(tile, overlap, match):
    with pytest.raises(ConfigError, match=match):
        plan_tiles(10, 10, tile, overlap)


def test_window_is_zero_on_the_halo_and_one_on_raster_edges():
    w = blend_window_1d(16, taper_start=True, taper_end=False, overlap=8)
    assert w.shape == (128,)
    assert np.all(w[:16] == 0)  # halo = 8 // 4 = 2 LR pixels = 16 HR pixels
    assert 0 < w[16] < w[20] < w[47] < 1  # smooth ramp over the remaining 4 LR pixels
    assert np.all(w[48:] == 1)
    assert np.all(blend_window_1d(16, False, False, overlap=8) == 1)


def test_blended_weights_cover_every_pixel():
    plan = plan_tiles(37, 53, 16, 12)
    total = np.zeros((37 * 8, 53 * 8))
    for t in plan:
        total[t.hr_slices] += blend_window(t, 37, 53, 12)
    assert total.min() > 0
