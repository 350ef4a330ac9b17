"""Reading NetCDF cubes (e.g. annual NTL stacks ``(time, lat, lon)``) into georeferenced arrays.

The CRS comes from the CF ``grid_mapping`` variable when present (rioxarray); a cube with plain
``lat``/``lon`` (or ``latitude``/``longitude``) coordinates and no grid mapping is, by the CF
conventions, geographic, and is read as EPSG:4326. Anything else without a CRS is refused.

The command line reads NetCDF files through GDAL (:mod:`deeplight.io.validation`, the same checks
as every other raster, with the same CF lat/lon rule); this reader serves library users who want a
whole cube as an xarray object. Both refuse complex values, infinite values, cubes without a valid
value and cubes declaring more than ``DEEPLIGHT_MAX_PIXELS`` values.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rioxarray  # noqa: F401
import xarray as xr

from deeplight.errors import RasterError
from deeplight.io.limits import check_pixel_count

_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "longitude")


def read_netcdf_cube(path: str | os.PathLike[str], variable: str | None = None) -> xr.DataArray:
    """Read one variable of a NetCDF file as ``(..., y, x)`` float32 with NaN for missing values.

    Args:
        path: NetCDF file.
        variable: data variable to read; default: the only variable with two spatial dims.

    Returns:
        DataArray with spatial dims renamed to ``y``/``x`` (north-up), ``.rio`` CRS and
        transform set, loaded into memory.

    Raises:
        RasterError: missing/unreadable file, unknown or ambiguous variable, no spatial dims, no
            CRS, or no valid value.
    """
    path = Path(path)
    if not path.is_file():
        raise RasterError(f"{path}: file not found; check the path")
    try:
        ds = xr.open_dataset(path, decode_coords="all", mask_and_scale=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise RasterError(f"{path}: not a readable NetCDF file ({exc})") from None
    with ds:
        spatial = []
        for name, var in ds.data_vars.items():
            dims = set(var.dims)
            if ({"x", "y"} <= dims) or (dims & set(_LAT_NAMES) and dims & set(_LON_NAMES)):
                spatial.append(name)
        if variable is None:
            if len(spatial) != 1:
                raise RasterError(
                    f"{path}: choose a variable among {spatial or list(ds.data_vars)} (variable=...)"
                )
            variable = spatial[0]
        if variable not in ds.data_vars:
            raise RasterError(f"{path}: no variable {variable!r}; it has {list(ds.data_vars)}")
        if variable not in spatial:
            raise RasterError(f"{path}: variable {variable!r} has no (y, x) or (lat, lon) dims")
        lazy = ds[variable]
        if np.issubdtype(lazy.dtype, np.complexfloating):
            raise RasterError(
                f"{path}: variable {variable!r} holds complex values ({lazy.dtype}); the imaginary part would be "
                "lost: store its magnitude or real part instead"
            )
        sizes = dict(lazy.sizes)
        height = next(sizes[d] for d in sizes if d in ("y", *_LAT_NAMES))
        width = next(sizes[d] for d in sizes if d in ("x", *_LON_NAMES))
        layers = max(int(lazy.size) // max(width * height, 1), 1)
        check_pixel_count(f"{path} variable {variable!r}", width, height, layers)
        da = lazy.load()
    rename = {}
    for dim in da.dims:
        if dim in _LAT_NAMES:
            rename[dim] = "y"
        elif dim in _LON_NAMES:
            rename[dim] = "x"
    geographic_by_names = bool(rename)
    da = da.rename(rename)
    if da["y"].size > 1 and float(da["y"][1] - da["y"][0]) > 0:
        da = da.isel(y=slice(None, None, -1))  # north-up
    crs = da.rio.crs
    if crs is None:
        if not geographic_by_names:
            raise RasterError(
                f"{path}: variable {variable!r} has no CRS (no CF grid_mapping); add one, e.g. "
                "with rioxarray .rio.write_crs()"
            )
        crs = "EPSG:4326"
    da = da.astype(np.float32)
    if not np.isfinite(da.values).any():
        raise RasterError(f"{path}: variable {variable!r} holds no valid value (every pixel is nodata)")
    infinite = int(np.isinf(da.values).sum())
    if infinite:
        raise RasterError(
            f"{path}: variable {variable!r} has {infinite} infinite value(s) (+inf or -inf); set them to the missing "
            "value (NaN) or fix the file"
        )
    da = da.rio.set_spatial_dims(x_dim="x", y_dim="y").rio.write_crs(crs)
    da = da.rio.write_transform(da.rio.transform(recalc=True))
    da.attrs["source_path"] = str(path)
    da.attrs["variable"] = variable
    return da.rio.write_nodata(np.nan, encoded=False)
