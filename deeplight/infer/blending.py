"""Streaming accumulation of blended tile predictions, row band by row band.

Tiles arrive in row-major plan order. The accumulator keeps only the HR rows that a later tile may
still touch (one tile row high), so memory is ``2 or 4 x (8 * tile) x (8 * width) x 4 bytes`` instead
of the whole output. Rows that no later tile touches are normalised by the accumulated weights,
masked where the LR input is nodata, and handed to a writer. :class:`TorchBlendingAccumulator` does
the same on a torch device (blending on the GPU, one host copy per tile row).
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
        self.sum = self._zeros((self.rows, width))
        self.weight = self._zeros((self.rows, width))
        self.unc = self._zeros((self.rows, width)) if with_uncertainty else None
        self.base = 0  # HR row held at buffer row 0
        self._windows: dict[tuple[int, int, int, int], np.ndarray] = {}
        self.flushes = 0

    # -- the buffers' array kind (numpy here; torch tensors on a device in the subclass) ----------
    def _zeros(self, shape: tuple[int, int]):
        return np.zeros(shape, dtype=np.float32)

    def _as_buffer(self, values):
        """``values`` (a tile's prediction or a window) as the buffers' array kind."""
        return values

    def _copy(self, values):
        return values.copy()

    def _finished(self, count: int, nodata_lr: np.ndarray):
        """The normalised first ``count`` rows (radiance, uncertainty or None) as numpy, NaN where
        the LR is nodata or no tile contributed."""
        with np.errstate(invalid="ignore", divide="ignore"):
            radiance = self.sum[:count] / self.weight[:count]
            unc = self.unc[:count] / self.weight[:count] if self.unc is not None else None
        mask = np.repeat(np.repeat(nodata_lr, SCALE, axis=0), SCALE, axis=1)
        mask |= self.weight[:count] <= 0
        radiance[mask] = np.nan
        if unc is not None:
            unc[mask] = np.nan
        return radiance, unc

    def _window(self, tile: Tile):
        rows_taper = int(tile.row > 0) + 2 * int(tile.row + tile.height < self.lr_height)
        cols_taper = int(tile.col > 0) + 2 * int(tile.col + tile.width < self.lr_width)
        shape_key = (tile.height, tile.width, rows_taper, cols_taper)
        if shape_key not in self._windows:
            window = blend_window(tile, self.lr_height, self.lr_width, self.overlap)
            self._windows[shape_key] = self._as_buffer(window)
        return self._windows[shape_key]

    def add(self, tile: Tile, radiance, uncertainty=None) -> None:
        """Blend one tile's prediction (``8*tile.height x 8*tile.width``) into the output."""
        top = tile.row * SCALE
        while top > self.base:  # more than one buffer of rows when tiles without data were left out
            self._flush(top)
        weights = self._window(tile)
        rows = slice(top - self.base, top - self.base + tile.height * SCALE)
        cols = tile.hr_slices[1]
        self.sum[rows, cols] += weights * self._as_buffer(radiance)
        self.weight[rows, cols] += weights
        if self.unc is not None and uncertainty is not None:
            self.unc[rows, cols] += weights * self._as_buffer(uncertainty)

    def finish(self) -> None:
        """Flush every remaining row."""
        self._flush(self.lr_height * SCALE)

    def _flush(self, until: int) -> None:
        """Write HR rows ``[base, until)`` and shift the buffer so that ``until`` is at row 0."""
        count = min(until, self.base + self.rows) - self.base
        if count <= 0:
            return
        lr0, lr1 = self.base // SCALE, (self.base + count) // SCALE
        radiance, unc = self._finished(count, self.nodata(lr0, lr1))
        self.flushes += 1
        self.writer(self.base, radiance, unc)
        keep = self.rows - count
        for buffer in (self.sum, self.weight, self.unc):
            if buffer is None:
                continue
            if keep > 0:
                buffer[:keep] = self._copy(buffer[count:])
            buffer[keep:] = 0.0
        self.base += count


class TorchBlendingAccumulator(BlendingAccumulator):
    """:class:`BlendingAccumulator` whose sums and weights live on a torch device (the GPU's blending).

    Tiles are added as device tensors (an engine output left on the device) or numpy arrays (cache
    hits, uploaded); the weighted sums, the normalisation and the nodata mask are computed on the
    device, and each flush - once per tile row, not per batch - copies the finished rows to the host
    in one transfer (the one synchronisation of that row). Same arithmetic and order as the numpy
    accumulator, so on CPU tensors the output equals it (tested).

    Args:
        device: where the buffers live; the other arguments as for :class:`BlendingAccumulator`.
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
        device: "torch.device | str" = "cpu",
    ) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        super().__init__(lr_height, lr_width, tile_height, overlap, writer, nodata, with_uncertainty)

    def _zeros(self, shape):
        return self.torch.zeros(shape, dtype=self.torch.float32, device=self.device)

    def _as_buffer(self, values):
        if isinstance(values, np.ndarray):
            values = self.torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
        return values.to(self.device, dtype=self.torch.float32, non_blocking=True)

    def _copy(self, values):
        return values.clone()

    def _finished(self, count, nodata_lr):
        weight = self.weight[:count]
        layers = [self.sum[:count] / weight]
        if self.unc is not None:
            layers.append(self.unc[:count] / weight)
        nodata = self.torch.from_numpy(np.ascontiguousarray(nodata_lr)).to(self.device, non_blocking=True)
        mask = nodata.repeat_interleave(SCALE, dim=0).repeat_interleave(SCALE, dim=1) | (weight <= 0)
        stacked = self.torch.stack(layers).masked_fill_(mask, float("nan"))
        host = stacked.cpu().numpy()  # the one device -> host copy (and synchronisation) of these rows
        return host[0], (host[1] if self.unc is not None else None)
