"""Writing Cloud-Optimized GeoTIFFs atomically, with the tags every DeepLight raster carries.

Every raster the project writes has the tags ``units``, ``modality``, ``simulated`` ("true" or
"false") and ``provenance`` (docs/CONTRACTS.md). The file is written to a temporary name in the target
folder and renamed only when complete (:func:`deeplight.utils_io.atomic_path`), so an interrupted run
never leaves a half-written raster under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from deeplight.errors import RasterError
from deeplight.utils_io import atomic_path

PathLike = str | os.PathLike[str]
REQUIRED_TAGS = ("units", "modality", "simulated", "provenance")


def _as_bands(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        return array[None]
    if array.ndim == 3:
        return array
    raise RasterError(f"cannot write an array of shape {array.shape}: need (y, x) or (band, y, x)")


def write_cog(
    data: xr.DataArray | np.ndarray,
    path: PathLike,
    *,
    crs: CRS | str | None = None,
    transform: Affine | Sequence[float] | None = None,
    nodata: float | None = np.nan,
    tags: Mapping[str, object] | None = None,
    band_descriptions: Sequence[str] | None = None,
    dtype: str = "float32",
    compress: str = "DEFLATE",
    level: int = 1,
    overview_resampling: str = "average",
    overwrite: bool = True,
) -> Path:
    """Write an array as a Cloud-Optimized GeoTIFF (tiled, with overviews), atomically.

    Args:
        data: ``(y, x)`` or ``(band, y, x)`` array; a DataArray supplies ``crs``/``transform``
            from its ``.rio`` accessor when they are not given.
        path: output file (``.tif``); its folder is created.
        crs: CRS (EPSG string, WKT or :class:`rasterio.crs.CRS`).
        transform: affine transform of the pixel grid (or its 6 coefficients ``a, b, c, d, e, f``).
        nodata: nodata value written in the header (NaN by default for float rasters).
        tags: dataset tags; must include ``units``, ``modality``, ``simulated`` and
            ``provenance``. Values are stored as strings (bools as "true"/"false").
        band_descriptions: optional per-band names.
        dtype: pixel type on disk.
        compress: GDAL compression.
        level: compression level; 1 (measured on synthetic float rasters: the same size as the
            default level 6 within 1 %, in half the time).
        overview_resampling: how overviews are computed ("average" for continuous values,
            "nearest" or "mode" for classes).
        overwrite: when False and ``path`` exists, raise instead of replacing it.

    Returns:
        The written path.

    Raises:
        RasterError: missing CRS/transform/tags, bad shape, or refusing to overwrite.
    """
    path = Path(path)
    if isinstance(data, xr.DataArray):
        if crs is None and data.rio.crs is not None:
            crs = data.rio.crs
        if transform is None:
            transform = data.rio.transform(recalc=False)
        array = np.asarray(data.values)
    else:
        array = np.asarray(data)
    if crs is None:
        raise RasterError(f"{path}: refusing to write a raster without a CRS; pass crs=")
    if transform is None:
        raise RasterError(f"{path}: refusing to write a raster without a transform; pass transform=")
    if not isinstance(transform, Affine):
        transform = Affine(*list(transform)[:6])
    tags = dict(tags or {})
    missing = [key for key in REQUIRED_TAGS if key not in tags]
    if missing:
        raise RasterError(f"{path}: tags {missing} are required on every DeepLight raster")
    str_tags = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in tags.items()}
    if str_tags["simulated"] not in ("true", "false"):
        raise RasterError(f"{path}: tag simulated must be true or false, got {tags['simulated']!r}")
    if not overwrite and path.exists():
        raise RasterError(f"{path}: exists; refusing to overwrite (remove it or choose another path)")
    bands = _as_bands(array).astype(dtype, copy=False)
    count, height, width = bands.shape
    if band_descriptions is not None and len(band_descriptions) != count:
        raise RasterError(f"{path}: {len(band_descriptions)} band descriptions for {count} bands")
    if nodata is not None and np.issubdtype(np.dtype(dtype), np.integer) and np.isnan(nodata):
        nodata = None
    blocksize = 256 if min(height, width) > 256 else 128
    profile = {
        "driver": "COG",
        "height": height,
        "width": width,
        "count": count,
        "dtype": dtype,
        "crs": CRS.from_user_input(crs),
        "transform": transform,
        "nodata": nodata,
        "compress": compress,
        "level": level,
        # floating-point predictor: 20-40 % smaller float rasters with DEFLATE
        **({"predictor": 3} if np.issubdtype(np.dtype(dtype), np.floating) else {}),
        "blocksize": blocksize,
        "overviews": "AUTO" if min(height, width) > 2 * blocksize else "NONE",
        "overview_resampling": overview_resampling,
        "BIGTIFF": "IF_SAFER",
    }
    with atomic_path(path, suffix=".tif.tmp") as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(bands)
            dst.update_tags(**str_tags)
            if band_descriptions is not None:
                for index, text in enumerate(band_descriptions, start=1):
                    dst.set_band_description(index, text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
    return path
