"""Night-light products as plain georeferenced arrays for the indicators.

A product (LR, SR, HR, a population or a reference map) is read from a GeoTIFF path or a
rioxarray ``DataArray`` into a :class:`GridRaster`: float64 values with NaN for nodata, the affine
transform and CRS of a north-up grid, and the file's tags (``units``, ``simulated``, ``model``...).

LR rasters from the DMSP-like sensor hold DN (0..63), not radiance. Sums of lights need radiance, so
:func:`dn_to_radiance` converts DN with the noise-free inverse of the degradation model's nominal
response (``deeplight.contracts.nominal_dn_to_radiance``), and the
result is flagged "nominal calibration" in the table's ``method`` column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from deeplight.contracts import nominal_dn_to_radiance, tag_is_true
from deeplight.errors import RasterError
from deeplight.io.limits import check_pixel_count
from deeplight.io.validation import check_values, emit, inspect_raster, reason

RADIANCE_UNITS = "nW/cm2/sr"
DN_UNITS = "DN"

RasterInput = str | os.PathLike[str] | Any  # a path or an xarray.DataArray with rioxarray georeferencing


@dataclass
class GridRaster:
    """A single-band raster on a north-up grid.

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

    def same_grid(self, other: GridRaster, tol: float = 1e-9) -> bool:
        """Whether ``other`` has the same CRS, shape and transform (within ``tol``)."""
        return (
            self.shape == other.shape
            and self.crs == other.crs
            and np.allclose(tuple(self.transform)[:6], tuple(other.transform)[:6], atol=tol, rtol=0)
        )


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


def read_grid_raster(
    source: RasterInput,
    *,
    band: int | None = None,
    name: str = "raster",
    bounds: tuple[float, float, float, float] | None = None,
    bounds_crs: CRS | str | None = None,
    time: str | None = None,
    role: str = "any",
) -> GridRaster:
    """Read one band of a GeoTIFF (or NetCDF) path or a rioxarray DataArray.

    Files go through the shared validator (:mod:`deeplight.io.validation`): readable, real pixels, a CRS
    (CF lat/lon NetCDF: EPSG:4326), one band unless ``band``/``time`` picks one (a NetCDF cube of many
    time steps is never read as its first band silently), the window within ``DEEPLIGHT_MAX_PIXELS``,
    no +-inf, at least one valid pixel, and the value rules of ``role``.

    Args:
        source: path to a raster file, or an ``xarray.DataArray`` with ``.rio`` georeferencing
            (2-D, or 3-D with a single band).
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
    if isinstance(source, GridRaster):
        return source
    if hasattr(source, "rio"):
        da = source
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
        return GridRaster(values, transform, CRS.from_user_input(crs), source_name, tags)
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
            data = src.read(header.bands[0], masked=True, window=window)
            values = np.ma.filled(data.astype(np.float64), np.nan)
            tags = {**src.tags(), **src.tags(header.bands[0])}
            transform = src.window_transform(window) if window is not None else src.transform
    except (rasterio.errors.RasterioIOError, rasterio.errors.RasterioError) as exc:
        raise RasterError(
            f"{label}: the file is truncated or corrupt, its pixels cannot be read ({reason(exc)}); download or "
            "export it again"
        ) from None
    values, notes = check_values(values, role, label,
                                 where=" in the window around the regions" if window is not None else "")
    emit(notes)
    crs = CRS.from_user_input(header.crs.to_wkt())
    values, transform = _north_up(values, transform, label)
    return GridRaster(values, transform, crs, str(path), tags)


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


def reproject_grid(
    raster: GridRaster, like: GridRaster, resampling: Resampling = Resampling.bilinear
) -> GridRaster:
    """Resample ``raster`` onto the grid of ``like`` (NaN outside the source's footprint)."""
    if raster.same_grid(like):
        return raster
    dst = np.full(like.shape, np.nan, dtype=np.float64)
    reproject(
        source=raster.values,
        destination=dst,
        src_transform=raster.transform,
        src_crs=raster.crs,
        src_nodata=np.nan,
        dst_transform=like.transform,
        dst_crs=like.crs,
        dst_nodata=np.nan,
        resampling=resampling,
    )
    return GridRaster(dst, like.transform, like.crs, raster.source, dict(raster.tags))


def dn_to_radiance(dn: np.ndarray) -> tuple[np.ndarray, str]:
    """Convert DMSP-like DN (0..63) to nominal radiance (nW/cm2/sr).

    Uses :func:`deeplight.contracts.nominal_dn_to_radiance`, the exact inverse of the degradation
    model's noise-free response ``DN = 6 R^0.6`` (docs/data.md). Saturated DN 63 maps to the
    saturation radiance (about 50 nW/cm2/sr), so sums of lights over saturated cores are lower
    bounds, and the per-scene gain drift of a simulated LR is not undone.

    Args:
        dn: DN array (any shape), NaN for nodata.

    Returns:
        (radiance array of the same shape, a short description of the calibration used).
    """
    with np.errstate(invalid="ignore"):
        radiance = np.asarray(nominal_dn_to_radiance(np.asarray(dn, dtype=np.float64)), dtype=np.float64)
    return radiance, "nominal calibration: R = (DN/6)^(1/0.6), deeplight.contracts.nominal_dn_to_radiance"


def is_dn_product(raster: GridRaster, declared_units: str | None = None, product: str = "lr") -> bool:
    """Whether a product holds DMSP-like DN rather than radiance.

    DN when ``declared_units`` says so, or when the ``units`` tag starts with "DN" (the LR writer's
    "DN (0-63, DMSP-like 6-bit)"). An untagged product named "lr" whose values are all integers in
    0..63 is taken as DN too (DMSP files carry no units); products with other names are radiance
    unless declared or tagged.
    """
    units = (declared_units or raster.units).strip().lower()
    if units:
        return units.startswith("dn") or "digital number" in units
    if product.lower() != "lr":
        return False
    finite = raster.values[np.isfinite(raster.values)]
    if finite.size == 0:
        return False
    return bool(
        finite.max() <= 63 and finite.min() >= 0 and np.all(finite == np.round(finite)) and finite.max() > 1
    )
