"""Reading single GeoTIFF-like rasters into georeferenced ``xarray.DataArray`` objects.

Any single-band night-time light GeoTIFF (VIIRS, DMSP, Luojia, SDGSAT), multi-band reflectance, DEM
or class map is read the same way: float32, nodata turned into NaN, CRS and transform kept (rioxarray
``.rio`` accessor), the file's tags kept in ``attrs``. Every failure is a :class:`RasterError` that
names the file and says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.errors import RasterioError, RasterioIOError

from deeplight.errors import RasterError

PathLike = str | os.PathLike[str]


def _describe_open_failure(path: Path, exc: Exception) -> RasterError:
    if not path.exists():
        return RasterError(f"{path}: file not found; check the path")
    if path.is_dir():
        return RasterError(f"{path}: is a folder, not a raster file; give a GeoTIFF path")
    return RasterError(f"{path}: not a readable raster ({exc}); give a GeoTIFF (or another GDAL raster) file")


def read_raster(
    path: PathLike,
    *,
    band: int | None = None,
    expected_bands: int | None = None,
    require_crs: bool = True,
    allow_all_nodata: bool = False,
) -> xr.DataArray:
    """Read a raster file into a float32 DataArray with NaN for nodata.

    Args:
        path: GeoTIFF (or any GDAL raster) file.
        band: 1-based band to read; the result is then 2-D ``(y, x)``.
        expected_bands: band count the caller's modality needs (e.g. 7 for DMO); a mismatch
            raises.
        require_crs: raise when the file has no CRS (default). Turn off only for files whose
            georeferencing the caller supplies itself.
        allow_all_nodata: accept a raster with no valid pixel (default: raise).

    Returns:
        ``(y, x)`` when the file has one band or ``band`` is given, else ``(band, y, x)``; float32,
        nodata as NaN; ``.rio.crs``/``.rio.transform()`` set; ``attrs`` holds the file tags,
        ``source_path``, ``source_nodata`` (the value on disk, or None) and ``source_dtype``.

    Raises:
        RasterError: file missing, not a raster, truncated/corrupt, no CRS, wrong band count,
            band out of range, or every pixel is nodata.
    """
    path = Path(path)
    try:
        src = rasterio.open(path)
    except (RasterioIOError, RasterioError, OSError) as exc:
        raise _describe_open_failure(path, exc) from None
    with src:
        count = src.count
        if expected_bands is not None and count != expected_bands:
            raise RasterError(
                f"{path}: has {count} band(s) but this modality needs {expected_bands}; "
                "give the right file or stack the bands into one GeoTIFF"
            )
        if band is not None and not 1 <= band <= count:
            raise RasterError(f"{path}: band {band} requested but the file has {count} band(s)")
        if src.crs is None and require_crs:
            raise RasterError(
                f"{path}: has no CRS (coordinate reference system); georeference it first, e.g. "
                "gdal_edit.py -a_srs EPSG:4326 FILE"
            )
        if src.transform.is_identity and src.crs is None:
            raise RasterError(f"{path}: has no geotransform; georeference it first")
        indexes = [band] if band is not None else list(range(1, count + 1))
        try:
            data = src.read(indexes, masked=True)
        except (RasterioIOError, RasterioError, OSError) as exc:
            raise RasterError(
                f"{path}: the file is truncated or corrupt, its pixels cannot be read ({exc}); "
                "download or export it again"
            ) from None
        array = np.ma.filled(data.astype(np.float32), np.nan)
        source_nodata = src.nodata
        tags = src.tags()
        descriptions = src.descriptions
        transform = src.transform
        crs = src.crs
        dtype = src.dtypes[0]
        height, width = src.height, src.width
    # NaN-valued nodata (or NaN pixels with no declared nodata) are already NaN in float.
    if not allow_all_nodata and not np.isfinite(array).any():
        raise RasterError(
            f"{path}: every pixel is nodata (nodata={source_nodata}); the raster holds no data - "
            "check the file or the region it was cut to"
        )
    xs = transform.c + transform.a * (np.arange(width) + 0.5)
    ys = transform.f + transform.e * (np.arange(height) + 0.5)
    if len(indexes) == 1:
        da = xr.DataArray(array[0], dims=("y", "x"), coords={"y": ys, "x": xs})
    else:
        da = xr.DataArray(array, dims=("band", "y", "x"), coords={"band": indexes, "y": ys, "x": xs})
    da.attrs.update(tags)
    da.attrs["source_path"] = str(path)
    da.attrs["source_nodata"] = source_nodata
    da.attrs["source_dtype"] = dtype
    if any(descriptions):
        da.attrs["band_descriptions"] = [d or "" for d in descriptions]
    if crs is not None:
        da = da.rio.write_crs(crs)
    da = da.rio.write_transform(transform)
    da = da.rio.write_nodata(np.nan, encoded=False)
    return da


def raster_grid(path: PathLike) -> dict:
    """Metadata of a raster without reading pixels (for windowed readers and ``data info``).

    Returns:
        ``{"path", "crs" (WKT or None), "crs_name", "transform" (Affine), "width", "height",
        "count", "dtype", "nodata", "tags", "res" (x, y), "bounds"}``.

    Raises:
        RasterError: the file is missing or not a raster.
    """
    path = Path(path)
    try:
        src = rasterio.open(path)
    except (RasterioIOError, RasterioError, OSError) as exc:
        raise _describe_open_failure(path, exc) from None
    with src:
        return {
            "path": str(path),
            "crs": src.crs.to_wkt() if src.crs else None,
            "crs_name": src.crs.to_string() if src.crs else None,
            "transform": src.transform,
            "width": src.width,
            "height": src.height,
            "count": src.count,
            "dtype": src.dtypes[0],
            "nodata": src.nodata,
            "tags": src.tags(),
            "band_descriptions": list(src.descriptions),
            "res": src.res,
            "bounds": tuple(src.bounds),
        }
