"""Tile inputs read from GeoTIFFs by windows; auxiliary layers warped onto the HR grid per window.

The LR raster defines the grids: ``hr_transform = lr.transform @ Affine.scale(1/8)``. An auxiliary
layer in any CRS and resolution is reprojected (bilinear) onto the HR window of each tile through a
GDAL warped VRT, so only the window is read and warped, never the whole file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from deeplight.data.norm import SCALE
from deeplight.errors import RasterError
from deeplight.infer.array import lr_to_dn
from deeplight.infer.engine import DMO_BANDS
from deeplight.infer.sources import AUX_NAMES
from deeplight.infer.tiling import Tile
from deeplight.io.value_ranges import check_value_range
from deeplight.utils_io import sha256_file

AUX_BANDS = {"dmo": DMO_BANDS, "dem": 1}


def _open(path: Path, role: str) -> rasterio.DatasetReader:
    if not path.exists():
        raise RasterError(f"{role} raster {path} not found: check the path")
    try:
        return rasterio.open(path)
    except RasterioError as exc:
        raise RasterError(f"{role} raster {path} cannot be read as a raster ({exc}): give a GeoTIFF") from exc


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class RasterSource:
    """Windows of an LR GeoTIFF plus optional ``dmo`` / ``dem`` GeoTIFFs in any CRS.

    Args:
        lr_path: single-band LR raster with a CRS; DN 0..63 (or radiance, see ``lr_units``).
        aux_paths: optional ``{"dmo": path (7 bands, reflectance 0..1), "dem": path (metres)}``.
        lr_units: "dn" or "radiance" (converted by the nominal DMSP-like response).

    Raises:
        RasterError: unreadable file, no CRS, wrong band count, or an aux layer that does not overlap.
    """

    def __init__(
        self,
        lr_path: str | os.PathLike[str],
        aux_paths: dict[str, str | os.PathLike[str] | None] | None = None,
        lr_units: str = "dn",
    ) -> None:
        self.lr_path = Path(lr_path)
        self.lr_units = lr_units
        lr_to_dn(np.zeros(1, np.float32), lr_units)  # validates the units early
        self.lr = _open(self.lr_path, "LR")
        self._vrts: dict[str, WarpedVRT] = {}
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
            self.input_hashes = {name: sha256_file(path) for name, path in inputs}
            digest = hashlib.sha256(f"lr_units={lr_units}".encode())
            for name, file_hash in self.input_hashes.items():
                digest.update(f"|{name}={file_hash}".encode())
            self.content_id = digest.hexdigest()
        except BaseException:
            self.close()
            raise

    def _check_lr(self) -> None:
        lr = self.lr
        if lr.crs is None:
            raise RasterError(
                f"LR raster {self.lr_path} has no CRS: georeference it (e.g. gdal_edit.py -a_srs EPSG:4326) "
                "so the output can be placed on the map"
            )
        if lr.transform == Affine.identity():
            raise RasterError(f"LR raster {self.lr_path} has no geotransform: georeference it first")
        if lr.count != 1:
            raise RasterError(
                f"LR raster {self.lr_path} has {lr.count} bands; give a single-band night-light raster"
            )
        self.lr_height, self.lr_width = lr.height, lr.width
        self.crs = lr.crs
        self.lr_transform = lr.transform
        self.hr_transform = lr.transform @ Affine.scale(1 / SCALE)
        self.lr_tags = lr.tags()

    def _open_aux(self, name: str, path: Path) -> None:
        ds = _open(path, name)
        self._aux_datasets.append(ds)
        if ds.crs is None:
            raise RasterError(f"{name} raster {path} has no CRS: georeference it so it can be reprojected")
        if ds.count != AUX_BANDS[name]:
            raise RasterError(f"{name} raster {path} has {ds.count} bands, expected {AUX_BANDS[name]}")
        lr_bounds = tuple(self.lr.bounds)
        aux_bounds = transform_bounds(ds.crs, self.crs, *ds.bounds, densify_pts=21)
        if not _overlaps(lr_bounds, aux_bounds):
            raise RasterError(
                f"{name} raster {path} does not overlap the LR raster {self.lr_path} (bounds {aux_bounds} vs "
                f"{lr_bounds} in the LR CRS): give a layer that covers the same area, or leave it out"
            )
        self._vrts[name] = WarpedVRT(
            ds, crs=self.crs, transform=self.hr_transform, width=self.lr_width * SCALE,
            height=self.lr_height * SCALE, resampling=Resampling.bilinear, dtype="float32", nodata=np.nan,
            src_nodata=ds.nodata,
        )

    def _check_lr_values(self, rows_per_read: int = 1024) -> None:
        """Fail before any work when the LR values are not DN (e.g. radiance given as DN)."""
        for row in range(0, self.lr_height, rows_per_read):
            window = Window(0, row, self.lr_width, min(rows_per_read, self.lr_height - row))
            check_value_range("lr", self.read_lr(window), str(self.lr_path))

    def read_lr(self, window: Window) -> np.ndarray:
        """LR DN in ``window`` as float32 with NaN for nodata."""
        data = self.lr.read(1, window=window, masked=True).astype(np.float32)
        return lr_to_dn(data.filled(np.nan), self.lr_units)

    def read(self, tile: Tile) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(lr_dn, dmo, dem)`` of ``tile`` (aux warped onto its HR window; outside = NaN)."""
        lr = self.read_lr(Window(tile.col, tile.row, tile.width, tile.height))
        hr_window = Window(tile.col * SCALE, tile.row * SCALE, tile.width * SCALE, tile.height * SCALE)
        aux: dict[str, np.ndarray] = {}
        for name, vrt in self._vrts.items():
            aux[name] = vrt.read(window=hr_window, masked=True).astype(np.float32).filled(np.nan)
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
        return str(self.lr_tags.get("simulated", "false")).strip().lower() == "true"

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
