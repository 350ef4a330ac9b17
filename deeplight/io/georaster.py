"""One band of one product as a plain georeferenced array: what the indicators compute on.

A :class:`GeoRaster` is float64 values (NaN for nodata) on a grid (affine transform and CRS), with
where it came from and the file's tags (``units``, ``simulated``, ``model``...). It is what a layer
of a :class:`deeplight.io.scene.Scene` materialises to (:meth:`Scene.georaster
<deeplight.io.scene.Scene.georaster>`) and what :func:`read_georaster` makes of a file or a
rioxarray ``DataArray``; ``deeplight.sdg`` and ``deeplight.report`` take any of the three.

- :func:`read_georaster` reads one band of a file through the shared validator
  (:func:`deeplight.io.validation.inspect_raster`, :func:`~deeplight.io.validation.check_values`)
  and the package's one window reader (:func:`deeplight.io.raster.read_dataset_window`), optionally
  only the window around some bounds; it returns north-up grids.
- :func:`reproject_like` resamples a GeoRaster onto another's grid (float64, the resampling given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from pyproj import CRS
from rasterio.errors import RasterioError
from rasterio.warp import Resampling, transform_bounds
from rasterio.windows import Window, from_bounds

from deeplight.contracts import tag_is_true
from deeplight.errors import RasterError
from deeplight.io.limits import check_pixel_count
from deeplight.io.raster import read_dataset_window
from deeplight.io.reproject import reproject_array
from deeplight.io.validation import check_values, emit, inspect_raster, unreadable_pixels

RasterInput = str | os.PathLike[str] | Any
"""A product as the indicators take it: a path, a rioxarray ``DataArray`` or a :class:`GeoRaster`."""


@dataclass
class GeoRaster:
    """A single-band raster on a grid.

    Attributes:
        values: (H, W) float64, NaN where nodata.
        transform: affine transform (pixel corner -> CRS coordinates).
        crs: the grid's CRS.
        source: the file path or "<array>" (for messages and metadata).
        tags: the raster's tags (``units``, ``simulated``, ``model``, ``checkpoint``...).
    """

    values: np.ndarray
    transform: Affine
    crs: CRS
    source: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.values.shape  # type: ignore[return-value]

    @property
    def units(self) -> str:
        """The ``units`` tag, or "" when the file does not say."""
        return str(self.tags.get("units", self.tags.get("UNITS", "")))

    @property
    def simulated(self) -> bool:
        """True when the raster's ``simulated`` tag is "true" (made by the degradation model)."""
        return tag_is_true(self.tags)

    def same_grid(self, other: GeoRaster) -> bool:
        """Whether ``other`` has the same CRS, shape and transform (:func:`deeplight.io.coverage.grids_match`)."""
        from deeplight.io.coverage import grids_match

        return grids_match(self, other)

    def with_values(self, values: np.ndarray) -> GeoRaster:
        """The same grid, source and tags with other (H, W) values."""
        return GeoRaster(values, self.transform, self.crs, self.source, self.tags)


def north_up(raster: GeoRaster) -> GeoRaster:
    """``raster`` on a north-up grid (a south-up grid flipped; ``raster`` itself when north-up).

    Raises:
        RasterError: a rotated grid.
    """
    values, transform = _north_up(raster.values, raster.transform, raster.source)
    if transform is raster.transform:
        return raster
    return GeoRaster(values, transform, raster.crs, raster.source, raster.tags)


def _north_up(values: np.ndarray, transform: Affine, source: str) -> tuple[np.ndarray, Affine]:
    """Flip a south-up grid to north-up; reject rotated grids."""
    if transform.b != 0 or transform.d != 0:
        raise RasterError(
            f"{source}: rotated raster (transform {tuple(transform)[:6]}): warp it north-up first"
        )
    if transform.e > 0:
        height = values.shape[0]
        values = values[::-1]
        transform = Affine(transform.a, 0, transform.c, 0, -transform.e, transform.f + transform.e * height)
    return values, transform


def georaster_from_dataarray(da: Any, name: str = "raster") -> GeoRaster:
    """A rioxarray ``DataArray`` (2-D, or 3-D with one band) as a north-up GeoRaster.

    Its nodata value becomes NaN, its scalar ``attrs`` the tags, its ``source_path`` attribute (if
    any) the source.

    Raises:
        RasterError: several bands, not 2-D, or no CRS.
    """
    if da.ndim == 3:
        if da.shape[0] != 1:
            raise RasterError(f"{name}: the DataArray has {da.shape[0]} bands; pass one band")
        da = da[0]
    if da.ndim != 2:
        raise RasterError(f"{name}: expected a 2-D DataArray, got dims {da.dims}")
    crs = da.rio.crs
    if crs is None:
        raise RasterError(f"{name}: the DataArray has no CRS; set it with da.rio.write_crs(...)")
    values = np.asarray(da.values, dtype=np.float64)
    nodata = da.rio.nodata
    if nodata is not None and not np.isnan(nodata):
        values = np.where(values == nodata, np.nan, values)
    tags = {str(k): str(v) for k, v in da.attrs.items() if isinstance(v, (str, int, float, bool))}
    values, transform = _north_up(values, da.rio.transform(), name)
    source_name = str(da.attrs.get("source_path", "<array>"))
    return GeoRaster(values, transform, CRS.from_user_input(crs), source_name, tags)


def read_georaster(
    source: RasterInput,
    *,
    band: int | None = None,
    name: str = "raster",
    bounds: tuple[float, float, float, float] | None = None,
    bounds_crs: CRS | str | None = None,
    time: str | None = None,
    role: str = "any",
) -> GeoRaster:
    """One band of a GeoTIFF (or NetCDF) path, a rioxarray DataArray or a GeoRaster, north-up.

    Files go through the shared validator (:mod:`deeplight.io.validation`): readable, real pixels, a CRS
    (CF lat/lon NetCDF: EPSG:4326), one band unless ``band``/``time`` picks one (a NetCDF cube of many
    time steps is never read as its first band silently), the window within ``DEEPLIGHT_MAX_PIXELS``,
    no +-inf, at least one valid pixel, and the value rules of ``role``. The pixels are read by
    :func:`deeplight.io.raster.read_dataset_window` as float64.

    Args:
        source: path to a raster file, an ``xarray.DataArray`` with ``.rio`` georeferencing
            (2-D, or 3-D with a single band), or a :class:`GeoRaster` (returned north-up).
        band: 1-based band index for files (required when the file has several bands, unless ``time``).
        name: what the raster is (for messages), e.g. "HR raster" or "population".
        bounds: (minx, miny, maxx, maxy) to read only the window around them (plus one pixel) from
            a file - for large rasters and small regions; the whole raster when they do not overlap.
        bounds_crs: CRS of ``bounds`` (the raster's when None).
        time: value of a NetCDF cube's time (extra) dimension, instead of ``band``.
        role: value rules for files (``any``, ``radiance``, ``lr``, ``population``; see
            :data:`deeplight.io.validation.RULES`); the caller may judge again once it knows the units.

    Raises:
        RasterError: missing file, unreadable file, no CRS, rotated grid, several bands without a choice,
            too large, bad values, or several bands in a DataArray.
    """
    if isinstance(source, GeoRaster):
        return north_up(source)
    if hasattr(source, "rio"):
        return georaster_from_dataarray(source, name)
    path = Path(os.fspath(source))
    label = f"{name} {path}"
    header = inspect_raster(path, role=role, label=label, band=band, time=time, single_band=True, mode=None,
                            band_hint="choose one with --band N or --time VALUE")
    try:
        with header.open() as src:
            window = _window_around(src, bounds, bounds_crs, header.crs) if bounds is not None else None
            width = int(window.width) if window is not None else header.width
            height = int(window.height) if window is not None else header.height
            check_pixel_count(label, width, height, 1, mode="whole",
                              hint="" if window is not None else " or use --crop-to-regions (reads only the "
                              "window around the regions)")
            values = read_dataset_window(src, window, [header.bands[0]], dtype=np.float64)[0]
            tags = {**src.tags(), **src.tags(header.bands[0])}
            transform = src.window_transform(window) if window is not None else src.transform
    except (RasterioError, OSError) as exc:
        raise unreadable_pixels(label, exc) from None
    values, notes = check_values(values, role, label,
                                 where=" in the window around the regions" if window is not None else "")
    emit(notes)
    crs = CRS.from_user_input(header.crs.to_wkt())
    values, transform = _north_up(values, transform, label)
    return GeoRaster(values, transform, crs, str(path), tags)


def _window_around(src, bounds: tuple[float, float, float, float], bounds_crs, crs=None) -> Window | None:
    """The pixel window of ``src`` covering ``bounds`` plus one pixel; None when they do not overlap."""
    crs = crs if crs is not None else src.crs
    if bounds_crs is not None and CRS.from_user_input(bounds_crs) != CRS.from_user_input(crs.to_wkt()):
        bounds = transform_bounds(CRS.from_user_input(bounds_crs), crs, *bounds, densify_pts=21)
    window = from_bounds(*bounds, transform=src.transform)
    col0 = max(int(np.floor(window.col_off)) - 1, 0)
    row0 = max(int(np.floor(window.row_off)) - 1, 0)
    col1 = min(int(np.ceil(window.col_off + window.width)) + 1, src.width)
    row1 = min(int(np.ceil(window.row_off + window.height)) + 1, src.height)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def reproject_like(
    raster: GeoRaster, like: GeoRaster, resampling: Resampling = Resampling.bilinear
) -> GeoRaster:
    """Resample ``raster`` onto the grid of ``like`` (float64, NaN outside the source's footprint).

    ``raster`` itself when it is already on that grid. The warp is :func:`deeplight.io.reproject_array`
    (the project's one warp) with the caller's resampling and a float64 result (the indicators average a
    reference map's urban fraction, interpolate an uncertainty layer).
    """
    if raster.same_grid(like):
        return raster
    dst = reproject_array(
        raster.values, raster.crs, raster.transform, like.crs, like.transform, like.shape, None,
        resampling=resampling, dtype=np.float64,
    )
    return GeoRaster(dst, like.transform, like.crs, raster.source, dict(raster.tags))


__all__ = [
    "GeoRaster",
    "RasterInput",
    "georaster_from_dataarray",
    "north_up",
    "read_georaster",
    "reproject_like",
]
