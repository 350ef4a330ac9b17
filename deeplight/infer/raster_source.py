"""Tile inputs read from GeoTIFFs by windows; auxiliary layers warped onto the HR grid per window.

The LR raster defines the grids: ``hr_transform = lr.transform @ Affine.scale(1/8)``. An auxiliary
layer in any CRS and resolution is reprojected (bilinear) onto the HR window of each tile through a
GDAL warped VRT, so only the window is read and warped, never the whole file.
"""

from __future__ import annotations

import math

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from deeplight.contracts import SCALE, tag_is_true
from deeplight.errors import RasterError
from deeplight.infer.array import lr_to_dn
from deeplight.infer.cache import TileCache, memoized_file_sha256
from deeplight.contracts import DMO_BANDS
from deeplight.infer.sources import AUX_NAMES
from deeplight.infer.tiling import Tile
from deeplight.io.limits import check_pixel_count
from deeplight.io.raster import read_dataset_window
from deeplight.io.validation import (
    RasterHeader,
    check_overlap,
    emit,
    inspect_raster,
    judge,
    scan_raster,
    window_over,
)
from deeplight.io.value_ranges import check_value_range

AUX_BANDS = {"dmo": DMO_BANDS, "dem": 1}


PREDICT_BAND_HINT = "predict reads one band: extract it first, e.g. gdal_translate -b N in.tif lr.tif"


LOGGER = logging.getLogger(__name__)
WARP_MEMORY_MB = 256
"""GDAL warp working memory for an auxiliary layer on another grid (the default, 64 MB, splits an
HR tile of 7 bands into many small warps)."""
AUX_SCAN_VALUES = 64 * 2**20
"""Values (bands x pixels) of an auxiliary layer checked before any work; a larger layer is checked
on evenly spaced blocks of rows that add up to about this many (:func:`deeplight.io.validation.scan_raster`
with ``max_values``), enough to refuse wrong units or scales up front, and every value the model
reads is checked as its tile is read (:meth:`RasterSource.read`), so no bad value gets through: the
run stops at the first such tile, before any output is written. The full scan read the whole layer
a second time: 10.5 of 106 s of an LR 1024 run with DMO + DEM on the 2-core machine."""


def _grid_offset(header: RasterHeader, crs, hr_transform: Affine) -> tuple[int, int] | None:
    """``(col, row)`` of the HR grid's origin in the layer's pixels when the layer is on the HR grid up
    to a whole-pixel shift (same CRS, same pixel size and axes); None when it must be warped."""
    transform = header.transform
    if header.crs is None or crs is None or header.crs != crs:
        return None
    axes, hr_axes = (transform.a, transform.b, transform.d, transform.e), (
        hr_transform.a, hr_transform.b, hr_transform.d, hr_transform.e)
    if not all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(axes, hr_axes)):
        return None
    col, row = ~transform @ (hr_transform.c, hr_transform.f)
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return int(round(col)), int(round(row))


def _read_shifted(ds: rasterio.DatasetReader, hr_window: Window, offset: tuple[int, int]) -> np.ndarray:
    """All bands of ``hr_window`` (HR grid) from a layer on that grid shifted by ``offset``; NaN outside
    the layer and at its nodata, as the warped read gives."""
    col0, row0 = int(hr_window.col_off) + offset[0], int(hr_window.row_off) + offset[1]
    height, width = int(hr_window.height), int(hr_window.width)
    out = np.full((ds.count, height, width), np.nan, dtype=np.float32)
    c0, r0 = max(col0, 0), max(row0, 0)
    c1, r1 = min(col0 + width, ds.width), min(row0 + height, ds.height)
    if c1 > c0 and r1 > r0:
        out[:, r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = read_dataset_window(
            ds, Window(c0, r0, c1 - c0, r1 - r0))
    return out


class _NaNFilledReads:
    """A dataset whose masked reads come back as float32 with NaN where masked, read by
    :func:`deeplight.io.raster.read_dataset_window` (what :func:`deeplight.io.validation.scan_raster`
    makes of a masked read anyway, without GDAL's per-band mask reads)."""

    def __init__(self, ds: rasterio.DatasetReader) -> None:
        self._ds = ds

    def read(self, indexes=None, window: Window | None = None, masked: bool = False) -> np.ndarray:
        if not masked:
            return self._ds.read(indexes, window=window)
        if isinstance(indexes, int):
            return read_dataset_window(self._ds, window, [indexes])[0]
        return read_dataset_window(self._ds, window, indexes)


def _open(header: RasterHeader) -> rasterio.DatasetReader:
    try:
        return header.open()
    except RasterioError as exc:
        raise RasterError(f"{header.label}: cannot be read as a raster ({exc}): give a GeoTIFF") from exc


class RasterSource:
    """Windows of an LR GeoTIFF plus optional ``dmo`` / ``dem`` GeoTIFFs in any CRS.

    Every file goes through the shared validator (:mod:`deeplight.io.validation`) before any work: the
    header (readable, real pixels, CRS, one band for the LR, 7 for the DMO, LR pixels within
    ``DEEPLIGHT_MAX_STREAM_PIXELS``, aux layers overlapping the LR), then the values, streamed by
    blocks of rows (no +-inf, not all nodata, DN 0..63 or radiance >= -2 nW/cm2/sr, reflectance and
    elevation in range). An auxiliary layer larger than :data:`AUX_SCAN_VALUES` is checked on a
    sample of its rows up front and value by value as each tile reads it (the run stops there, before
    any output is written).

    Args:
        lr_path: single-band LR raster with a CRS; DN 0..63 (or radiance, see ``lr_units``).
        aux_paths: optional ``{"dmo": path (7 bands, reflectance 0..1), "dem": path (metres)}``.
        lr_units: "dn" or "radiance" (converted by the nominal DMSP-like response).
        cache: where the files' SHA-256 (the content ids of the cache keys and the output's ``inputs``
            tag) are remembered per file version (:func:`deeplight.infer.cache.memoized_file_sha256`);
            None hashes every file.

    Raises:
        RasterError: unreadable file, no CRS, wrong band count, too large, bad values, or an aux layer
            that does not overlap.
    """

    def __init__(
        self,
        lr_path: str | os.PathLike[str],
        aux_paths: dict[str, str | os.PathLike[str] | None] | None = None,
        lr_units: str = "dn",
        cache: TileCache | None = None,
    ) -> None:
        self.lr_path = Path(lr_path)
        self.lr_units = lr_units
        lr_to_dn(np.zeros(1, np.float32), lr_units)  # validates the units early
        self.lr_role = "lr_radiance" if lr_units == "radiance" else "lr"
        self.lr_header = inspect_raster(
            self.lr_path, role=self.lr_role, label=f"LR raster {self.lr_path}", single_band=True,
            mode="stream", band_hint=PREDICT_BAND_HINT,
            size_hint=" (the 8x finer output has 64x as many pixels)",
        )
        self.lr = _open(self.lr_header)
        self._vrts: dict[str, WarpedVRT] = {}
        self._direct: dict[str, tuple[rasterio.DatasetReader, tuple[int, int]]] = {}
        self._aux_datasets: list[rasterio.DatasetReader] = []
        try:
            self._check_lr()
            self.aux_paths = {k: Path(v) for k, v in (aux_paths or {}).items() if v is not None}
            unknown = sorted(set(self.aux_paths) - set(AUX_NAMES))
            if unknown:
                raise RasterError(
                    f"unknown auxiliary layer(s) {unknown}: the predictor accepts {list(AUX_NAMES)}"
                )
            for name, path in self.aux_paths.items():
                self._open_aux(name, path)
            self._check_lr_values()
            inputs = [("lr", self.lr_path), *sorted(self.aux_paths.items())]
            self.input_hashes = {name: memoized_file_sha256(path, cache) for name, path in inputs}
            digest = hashlib.sha256(f"lr_units={lr_units}".encode())
            for name, file_hash in self.input_hashes.items():
                digest.update(f"|{name}={file_hash}".encode())
            self.content_id = digest.hexdigest()
        except BaseException:
            self.close()
            raise

    def _check_lr(self) -> None:
        header = self.lr_header
        self.lr_height, self.lr_width = header.height, header.width
        self.crs = header.crs
        self.lr_transform = header.transform
        self.hr_transform = header.transform @ Affine.scale(1 / SCALE)
        self.lr_tags = header.tags
        self.lr_band = header.bands[0]

    def _open_aux(self, name: str, path: Path) -> None:
        header = inspect_raster(path, role=name, label=f"{name} raster {path}", expected_bands=AUX_BANDS[name],
                                mode=None)
        check_overlap(header, self.crs, tuple(self.lr_header.bounds), f"the LR raster {self.lr_path}")
        # only the part under the LR raster is ever read (warped by windows): that part is what must fit
        window = window_over(header, self.crs, tuple(self.lr_header.bounds))
        check_pixel_count(header.label + " (the part under the LR raster)", int(window.width), int(window.height),
                          mode="stream", limit_factor=SCALE * SCALE)  # it is read on the 8x finer HR grid
        ds = _open(header)
        self._aux_datasets.append(ds)
        stats = scan_raster(_NaNFilledReads(ds), header, name, window=window, max_values=AUX_SCAN_VALUES)
        if "sampled" in stats.extra and not stats.valid:  # nothing valid in the sample: look at every row
            stats = scan_raster(_NaNFilledReads(ds), header, name, window=window)
        emit(judge(stats, name, header.label, where=" under the LR raster"))
        offset = _grid_offset(header, self.crs, self.hr_transform)
        if offset is not None:  # already on the HR grid (a whole-pixel shift): read it, no warp
            LOGGER.info("%s layer %s is on the HR grid (shift %s px): read directly", name, path, offset)
            self._direct[name] = (ds, offset)
            return
        LOGGER.info("%s layer %s is on another grid: warped (bilinear) by windows", name, path)
        self._vrts[name] = WarpedVRT(
            ds, src_crs=header.crs, crs=self.crs, transform=self.hr_transform, width=self.lr_width * SCALE,
            height=self.lr_height * SCALE, resampling=Resampling.bilinear, dtype="float32", nodata=np.nan,
            src_nodata=ds.nodata, warp_mem_limit=WARP_MEMORY_MB, warp_extras={"NUM_THREADS": "ALL_CPUS"},
        )

    def _check_lr_values(self, rows_per_read: int = 1024) -> None:
        """Fail before any work when the LR values are not usable (see the class docstring)."""
        stats = scan_raster(_NaNFilledReads(self.lr), self.lr_header, self.lr_role, rows_per_read=rows_per_read)
        emit(judge(stats, self.lr_role, self.lr_header.label))

    def read_lr(self, window: Window) -> np.ndarray:
        """LR DN in ``window`` as float32 with NaN for nodata."""
        data = read_dataset_window(self.lr, window, [self.lr_band])[0]
        return lr_to_dn(data, self.lr_units)

    def lr_overview(self, max_side: int = 512) -> np.ndarray:
        """The whole LR in DN, subsampled (nearest, by a stride) to at most ``max_side`` pixels a side."""
        stride = max(1, -(-max(self.lr_height, self.lr_width) // max_side))
        shape = (-(-self.lr_height // stride), -(-self.lr_width // stride))
        data = self.lr.read(self.lr_band, out_shape=shape, resampling=Resampling.nearest, masked=True)
        return lr_to_dn(data.astype(np.float32).filled(np.nan), self.lr_units)

    def read(self, tile: Tile) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(lr_dn, dmo, dem)`` of ``tile`` (aux warped onto its HR window; outside = NaN)."""
        lr = self.read_lr(Window(tile.col, tile.row, tile.width, tile.height))
        hr_window = Window(tile.col * SCALE, tile.row * SCALE, tile.width * SCALE, tile.height * SCALE)
        aux: dict[str, np.ndarray] = {}
        for name, vrt in self._vrts.items():
            aux[name] = read_dataset_window(vrt, hr_window)
        for name, (ds, offset) in self._direct.items():
            aux[name] = _read_shifted(ds, hr_window, offset)
        for name in aux:
            check_value_range(name, aux[name], str(self.aux_paths[name]))
        dmo = aux.get("dmo")
        dem = aux["dem"][0] if "dem" in aux else None
        return lr, dmo, dem

    def nodata_rows(self, lr_row0: int, lr_row1: int) -> np.ndarray:
        """True where LR rows ``[lr_row0, lr_row1)`` are nodata."""
        return np.isnan(self.read_lr(Window(0, lr_row0, self.lr_width, lr_row1 - lr_row0)))

    @property
    def simulated(self) -> bool:
        """Whether the LR input is tagged as made by the degradation model."""
        return tag_is_true(self.lr_tags)

    def describe_inputs(self) -> dict[str, dict[str, str]]:
        """``{role: {"file": name, "sha256": hash}}`` for the output tags."""
        paths = {"lr": self.lr_path, **self.aux_paths}
        return {name: {"file": str(paths[name]), "sha256": h} for name, h in self.input_hashes.items()}

    def close(self) -> None:
        """Close every open dataset."""
        for vrt in self._vrts.values():
            vrt.close()
        for ds in self._aux_datasets:
            ds.close()
        self.lr.close()

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
