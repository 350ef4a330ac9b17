"""Where tile inputs come from: in-memory arrays (the dashboard) or rasters read by windows."""

from __future__ import annotations

import hashlib
from typing import Protocol

import numpy as np

from deeplight.contracts import SCALE
from deeplight.errors import RasterError
from deeplight.contracts import DMO_BANDS
from deeplight.infer.tiling import Tile
from deeplight.io.value_ranges import check_value_range

AUX_NAMES = ("dmo", "dem")
"""Auxiliary inputs the predictor understands (``isp`` is a training target, never an input)."""


class TileSource(Protocol):
    """Provider of the raw inputs of each tile (physical units, NaN = nodata)."""

    lr_height: int
    lr_width: int
    content_id: str
    """Hash of everything the source's content depends on (used in cache keys)."""

    def read(self, tile: Tile) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(lr_dn (h, w), dmo (7, 8h, 8w) or None, dem (8h, 8w) or None)`` of ``tile``."""
        ...

    def nodata_rows(self, lr_row0: int, lr_row1: int) -> np.ndarray:
        """Bool ``(lr_row1 - lr_row0, lr_width)``: True where the LR input is nodata."""
        ...


def _hash_array(digest: hashlib._Hash, name: str, array: np.ndarray | None) -> None:
    digest.update(name.encode())
    if array is None:
        digest.update(b"absent")
        return
    digest.update(str(array.dtype).encode() + str(array.shape).encode())
    digest.update(np.ascontiguousarray(array).data)


class ArraySource:
    """Tiles cut from in-memory arrays.

    Args:
        lr_dn: (h, w) DMSP-like DN 0..63, NaN = nodata.
        aux: optional ``{"dmo": (7, 8h, 8w) reflectance, "dem": (8h, 8w) metres}``; None values or
            missing keys mean absent.

    Raises:
        RasterError: wrong dimensions, shapes not 8x the LR shape, or unknown aux names.
    """

    def __init__(self, lr_dn: np.ndarray, aux: dict[str, np.ndarray | None] | None = None) -> None:
        lr = np.asarray(lr_dn)
        if lr.ndim != 2 or lr.size == 0:
            raise RasterError(f"lr_dn must be a non-empty 2-D array (h, w) of DN, got shape {lr.shape}")
        self.lr = lr.astype(np.float32, copy=False)
        self.lr_height, self.lr_width = self.lr.shape
        aux = dict(aux or {})
        unknown = sorted(set(aux) - set(AUX_NAMES))
        if unknown:
            raise RasterError(
                f"unknown auxiliary layer(s) {unknown}: the predictor accepts {list(AUX_NAMES)}"
            )
        hr = (self.lr_height * SCALE, self.lr_width * SCALE)
        self.dmo = None if aux.get("dmo") is None else np.asarray(aux["dmo"], dtype=np.float32)
        self.dem = None if aux.get("dem") is None else np.asarray(aux["dem"], dtype=np.float32)
        if self.dmo is not None and self.dmo.shape != (DMO_BANDS, *hr):
            raise RasterError(
                f"aux 'dmo' must have shape {(DMO_BANDS, *hr)} (7 bands, 8x the LR grid), "
                f"got {self.dmo.shape}"
            )
        if self.dem is not None and self.dem.shape != hr:
            raise RasterError(f"aux 'dem' must have shape {hr} (8x the LR grid), got {self.dem.shape}")
        self._content_id: str | None = None

    def check_values(self) -> None:
        """Raise :class:`RasterError` when a layer's values are outside its plausible range (radiance
        given as DN, reflectance scaled to 0..10000...); done before computing, not on cache hits."""
        for name, array in (("lr", self.lr), ("dmo", self.dmo), ("dem", self.dem)):
            if array is not None:
                check_value_range(name, array, f"{name} array")

    @property
    def content_id(self) -> str:
        """SHA-256 of the arrays (dtype, shape, bytes), computed on first use (~30 ms per 20 MB)."""
        if self._content_id is None:
            digest = hashlib.sha256()
            for name, array in (("lr", self.lr), ("dmo", self.dmo), ("dem", self.dem)):
                _hash_array(digest, name, array)
            self._content_id = digest.hexdigest()
        return self._content_id

    def read(self, tile: Tile) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Slices of the arrays under ``tile``."""
        rows, cols = tile.hr_slices
        lr = self.lr[tile.row:tile.row + tile.height, tile.col:tile.col + tile.width]
        dmo = None if self.dmo is None else self.dmo[:, rows, cols]
        dem = None if self.dem is None else self.dem[rows, cols]
        return lr, dmo, dem

    def nodata_rows(self, lr_row0: int, lr_row1: int) -> np.ndarray:
        """NaN mask of LR rows ``[lr_row0, lr_row1)``."""
        return np.isnan(self.lr[lr_row0:lr_row1])
