"""Streaming accumulation of blended tile predictions, row band by row band.

Tiles arrive in row-major plan order. The accumulator keeps only the HR rows that a later tile may
still touch (one tile row high), so memory is ``2 or 4 x (8 * tile) x (8 * width) x 4 bytes`` instead
of the whole output. Rows that no later tile touches are normalised by the accumulated weights,
masked where the LR input is nodata, and handed to a writer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deeplight.contracts import SCALE
from deeplight.infer.tiling import Tile, blend_window

RowWriter = Callable[[int, np.ndarray, "np.ndarray | None"], None]
"""``writer(hr_row0, radiance_rows (n, W), uncertainty_rows (n, W) or None)``."""
NodataRows = Callable[[int, int], np.ndarray]
"""``nodata(lr_row0, lr_row1) -> bool (lr_row1 - lr_row0, lr_width)``: True where LR is nodata."""


class BlendingAccumulator:
    """Normalised weighted average of overlapping tiles, flushed to ``writer`` as rows finalise.

    Args:
        lr_height, lr_width: raster size in LR pixels.
        tile_height: height (LR pixels) of every tile in the plan.
        overlap: nominal overlap (LR pixels), which defines the blending window.
        writer: receives finished HR rows.
        nodata: LR nodata mask provider (HR pixels under a nodata LR pixel become NaN).
        with_uncertainty: also blend an uncertainty layer.
    """

    def __init__(
        self,
        lr_height: int,
        lr_width: int,
        tile_height: int,
        overlap: int,
        writer: RowWriter,
        nodata: NodataRows,
        with_uncertainty: bool = False,
    ) -> None:
        self.lr_height, self.lr_width = lr_height, lr_width
        self.overlap = overlap
        self.writer = writer
        self.nodata = nodata
        self.rows = tile_height * SCALE
        width = lr_width * SCALE
        self.sum = np.zeros((self.rows, width), dtype=np.float32)
        self.weight = np.zeros((self.rows, width), dtype=np.float32)
        self.unc = np.zeros((self.rows, width), dtype=np.float32) if with_uncertainty else None
        self.base = 0  # HR row held at buffer row 0
        self._windows: dict[tuple[int, int, int, int], np.ndarray] = {}

    def _window(self, tile: Tile) -> np.ndarray:
        rows_taper = int(tile.row > 0) + 2 * int(tile.row + tile.height < self.lr_height)
        cols_taper = int(tile.col > 0) + 2 * int(tile.col + tile.width < self.lr_width)
        shape_key = (tile.height, tile.width, rows_taper, cols_taper)
        if shape_key not in self._windows:
            self._windows[shape_key] = blend_window(tile, self.lr_height, self.lr_width, self.overlap)
        return self._windows[shape_key]

    def add(self, tile: Tile, radiance: np.ndarray, uncertainty: np.ndarray | None = None) -> None:
        """Blend one tile's prediction (``8*tile.height x 8*tile.width``) into the output."""
        top = tile.row * SCALE
        if top > self.base:
            self._flush(top)
        weights = self._window(tile)
        rows = slice(top - self.base, top - self.base + tile.height * SCALE)
        cols = tile.hr_slices[1]
        self.sum[rows, cols] += weights * radiance
        self.weight[rows, cols] += weights
        if self.unc is not None and uncertainty is not None:
            self.unc[rows, cols] += weights * uncertainty

    def finish(self) -> None:
        """Flush every remaining row."""
        self._flush(self.lr_height * SCALE)

    def _flush(self, until: int) -> None:
        """Write HR rows ``[base, until)`` and shift the buffer so that ``until`` is at row 0."""
        count = min(until, self.base + self.rows) - self.base
        if count <= 0:
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            radiance = self.sum[:count] / self.weight[:count]
            unc = self.unc[:count] / self.weight[:count] if self.unc is not None else None
        lr0, lr1 = self.base // SCALE, (self.base + count) // SCALE
        mask = np.repeat(np.repeat(self.nodata(lr0, lr1), SCALE, axis=0), SCALE, axis=1)
        mask |= self.weight[:count] <= 0
        radiance[mask] = np.nan
        if unc is not None:
            unc[mask] = np.nan
        self.writer(self.base, radiance, unc)
        keep = self.rows - count
        for buffer in (self.sum, self.weight, self.unc):
            if buffer is None:
                continue
            if keep > 0:
                buffer[:keep] = buffer[count:].copy()
            buffer[keep:] = 0.0
        self.base += count
