"""Tile layout and the smooth blending window of the tiled predictor.

A raster of ``height x width`` LR pixels is covered by tiles of at most ``tile x tile`` LR pixels
that share at least ``overlap`` LR pixels with their neighbours. Along each axis the layout takes the
fewest tiles of at most ``tile`` pixels that can do so, then the smallest equal tile length that
covers the axis with that many (:func:`fitted_tile_length`), spread evenly so the last tile ends
exactly on the raster edge: every tile is a true sub-window of the raster, no tile is padded, and
consecutive tiles overlap by ``overlap`` pixels, or one or two more after rounding - not by
whatever a fixed tile length leaves over (a 256-pixel axis in tiles of 128 with an overlap of 16 was
covered by 3 tiles overlapping by 64, computing 2.25x the pixels of a 2-D raster; fitted, 3 tiles
of 96 overlapping by 16-17, 1.27x). All tiles of a plan have one size, so they batch.

Blending (normalised weighted average, in HR pixels): each tile's prediction is weighted by a
separable window that is

* 0 over a *halo* of ``overlap // 4`` LR pixels at each edge shared with a neighbour (pixels there
  see the tile's zero padding, so they are discarded),
* a raised-cosine ramp ``sin^2(pi/2 * t)`` over the remaining overlap (a smooth, seam-free
  transition between neighbours),
* 1 elsewhere, and 1 right up to the raster edge (no neighbour there).

The output is ``sum_i w_i * pred_i / sum_i w_i``. **Exactness rule**: a model whose receptive-field
radius is ``r`` LR pixels gives tiled output equal to the whole-image output (up to float rounding)
when ``overlap >= 4 * r``, because every pixel with a non-zero weight then lies at least ``r`` LR
pixels away from any tile edge that is not a raster edge. Models with global operations (a spatial
transformer fed by the whole tile, global pooling / channel attention) have an unbounded receptive
field: for them the tiled output is the definition, and a larger overlap only reduces the seams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deeplight.contracts import SCALE
from deeplight.errors import ConfigError


@dataclass(frozen=True)
class Tile:
    """One tile of the layout, in LR pixels of the whole raster.

    Attributes:
        row, col: top-left LR pixel of the tile.
        height, width: tile size in LR pixels.
        index: position of the tile in the row-major plan (0-based).
    """

    row: int
    col: int
    height: int
    width: int
    index: int

    @property
    def hr_slices(self) -> tuple[slice, slice]:
        """Row and column slices of the tile on the HR grid (8x finer)."""
        return (
            slice(self.row * SCALE, (self.row + self.height) * SCALE),
            slice(self.col * SCALE, (self.col + self.width) * SCALE),
        )


def check_tiling(tile: int, overlap: int) -> None:
    """Raise :class:`ConfigError` unless ``tile > overlap >= 0`` and ``tile >= 1`` (LR pixels)."""
    if not isinstance(tile, int) or tile < 1:
        raise ConfigError(f"tile must be a positive number of LR pixels (got {tile!r})")
    if not isinstance(overlap, int) or overlap < 0:
        raise ConfigError(f"overlap must be zero or a positive number of LR pixels (got {overlap!r})")
    if overlap >= tile:
        raise ConfigError(
            f"overlap ({overlap}) must be smaller than tile ({tile}): use e.g. overlap = tile // 8"
        )


def fitted_tile_length(length: int, tile: int, overlap: int) -> int:
    """Length of every tile along an axis of ``length`` LR pixels (see the module docstring).

    The count is the fewest tiles of at most ``tile`` pixels overlapping by ``overlap``,
    ``ceil((length - overlap) / (tile - overlap))``; the length is the smallest that covers the axis
    with that count and overlap, ``ceil((length + (count - 1) * overlap) / count)`` (at most ``tile``).
    """
    check_tiling(tile, overlap)
    if length <= tile:
        return length
    count = math.ceil((length - overlap) / (tile - overlap))
    return min(tile, -(-(length + (count - 1) * overlap) // count))


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Evenly spread tile starts along one axis so that the last tile ends on the raster edge.

    Args:
        length: raster size along the axis (LR pixels, >= 1).
        tile: maximum tile size (LR pixels); every tile has :func:`fitted_tile_length` pixels.
        overlap: minimum overlap between consecutive tiles (LR pixels).

    Returns:
        Sorted starts; consecutive tiles overlap by at least ``overlap`` pixels.
    """
    size = fitted_tile_length(length, tile, overlap)
    if length <= size:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    span = length - size
    return [round(k * span / (count - 1)) for k in range(count)]


def plan_tiles(height: int, width: int, tile: int, overlap: int) -> list[Tile]:
    """Row-major list of equally sized tiles (at most ``tile`` a side) covering a ``height x width``
    LR raster."""
    if height < 1 or width < 1:
        raise ConfigError(f"cannot tile an empty raster of {height} x {width} LR pixels")
    rows = tile_starts(height, tile, overlap)
    cols = tile_starts(width, tile, overlap)
    tile_h, tile_w = fitted_tile_length(height, tile, overlap), fitted_tile_length(width, tile, overlap)
    plan: list[Tile] = []
    for r in rows:
        for c in cols:
            plan.append(Tile(row=r, col=c, height=tile_h, width=tile_w, index=len(plan)))
    return plan


def recomputed_share(height: int, width: int, tile: int, overlap: int) -> float:
    """LR pixels the plan's tiles compute / pixels of the raster (1.0 = nothing computed twice)."""
    plan = plan_tiles(height, width, tile, overlap)
    return sum(t.height * t.width for t in plan) / (height * width)


def blend_window_1d(length_lr: int, taper_start: bool, taper_end: bool, overlap: int) -> np.ndarray:
    """1-D blending weights of a tile along one axis, in HR pixels.

    Args:
        length_lr: tile length (LR pixels).
        taper_start / taper_end: whether a neighbouring tile shares the start / end edge
            (False on a raster edge, where the weight stays 1 up to the edge).
        overlap: nominal overlap (LR pixels); halo = ``overlap // 4`` LR pixels, ramp = the rest.

    Returns:
        float64 array of ``length_lr * 8`` weights in [0, 1].
    """
    n = length_lr * SCALE
    weights = np.ones(n, dtype=np.float64)
    halo = (overlap // 4) * SCALE
    ramp = overlap * SCALE - 2 * halo
    if overlap == 0:
        return weights
    t = (np.arange(ramp, dtype=np.float64) + 0.5) / ramp
    rising = np.sin(0.5 * np.pi * t) ** 2
    if taper_start:
        weights[:halo] = 0.0
        weights[halo:halo + ramp] = np.minimum(weights[halo:halo + ramp], rising)
    if taper_end:
        weights[n - halo:] = 0.0
        weights[n - halo - ramp:n - halo] = np.minimum(weights[n - halo - ramp:n - halo], rising[::-1])
    return weights


def blend_window(tile: Tile, raster_height: int, raster_width: int, overlap: int) -> np.ndarray:
    """2-D blending weights (``8*tile.height, 8*tile.width``, float32) of ``tile`` in its raster."""
    wy = blend_window_1d(tile.height, tile.row > 0, tile.row + tile.height < raster_height, overlap)
    wx = blend_window_1d(tile.width, tile.col > 0, tile.col + tile.width < raster_width, overlap)
    return np.outer(wy, wx).astype(np.float32)
