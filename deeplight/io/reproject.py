"""Warping auxiliary rasters onto a scene's grid with rasterio.warp, per-modality resampling.

Population counts are conserved: counts are turned into densities (persons per m^2, using each
pixel's true area on the ellipsoid-free sphere for geographic CRSs and the projected area otherwise),
averaged onto the target grid, and turned back into counts with the target pixel areas.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import reproject

from deeplight.errors import RasterError
from deeplight.io.modalities import get_modality

EARTH_RADIUS_M = 6_371_007.2
"""Authalic Earth radius (m) used for pixel areas of geographic grids."""


def pixel_area_m2(crs: CRS, transform: Affine, height: int, width: int) -> np.ndarray:
    """Area of every pixel of a grid in m^2.

    Geographic CRSs use the spherical zone area ``R^2 * dlon * (sin(lat1) - sin(lat2))`` on the
    authalic sphere (error < 0.5 % vs the WGS84 ellipsoid); projected CRSs use ``|det(transform)|``
    in the CRS's linear unit converted to metres (exact for equal-area projections such as
    Mollweide, approximate for conformal ones).

    Returns:
        ``(height, width)`` float64 array.
    """
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        if transform.b != 0 or transform.d != 0:
            raise RasterError("pixel areas of rotated geographic grids are not supported")
        rows = np.arange(height + 1)
        lat_edges = np.deg2rad(transform.f + transform.e * rows)
        band_area = (
            EARTH_RADIUS_M**2
            * math.radians(abs(transform.a))
            * np.abs(np.sin(lat_edges[:-1]) - np.sin(lat_edges[1:]))
        )
        return np.repeat(band_area[:, None], width, axis=1)
    unit_factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    area = abs(transform.a * transform.e - transform.b * transform.d) * unit_factor**2
    return np.full((height, width), area, dtype=np.float64)


def _grid_of(like: xr.DataArray) -> tuple[CRS, Affine, int, int]:
    if like.rio.crs is None:
        raise RasterError("the target grid has no CRS; read it with deeplight.io.read_raster")
    return like.rio.crs, like.rio.transform(recalc=False), like.sizes["y"], like.sizes["x"]


def reproject_array(
    source: np.ndarray,
    src_crs: CRS,
    src_transform: Affine,
    dst_crs: CRS,
    dst_transform: Affine,
    dst_shape: tuple[int, int],
    modality: str,
) -> np.ndarray:
    """Warp a ``(y, x)`` or ``(band, y, x)`` float array (NaN = nodata) onto another grid.

    Args:
        source: pixel values, NaN where invalid.
        src_crs, src_transform: source grid.
        dst_crs, dst_transform, dst_shape: target grid (height, width).
        modality: a name from :data:`deeplight.io.modalities.MODALITIES`; picks the resampling
            and, for ``population``, conserves totals.

    Returns:
        float32 array on the target grid (same leading band axis as ``source``), NaN where no
        source pixel contributes.
    """
    spec = get_modality(modality)
    squeeze = source.ndim == 2
    bands = source[None] if squeeze else source
    src = bands.astype(np.float64)
    if modality == "population":
        src = src / pixel_area_m2(src_crs, src_transform, *src.shape[1:])[None]
    out = np.full((bands.shape[0], *dst_shape), np.nan, dtype=np.float64)
    for index in range(bands.shape[0]):
        reproject(
            source=src[index],
            destination=out[index],
            src_transform=src_transform,
            src_crs=src_crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs=dst_crs,
            dst_nodata=np.nan,
            resampling=spec.resampling,
        )
    if modality == "population":
        out = out * pixel_area_m2(dst_crs, dst_transform, *dst_shape)[None]
    out = out.astype(np.float32)
    return out[0] if squeeze else out


def reproject_to(aux: xr.DataArray, like: xr.DataArray, modality: str) -> xr.DataArray:
    """Warp ``aux`` onto the grid of ``like`` with the resampling suited to ``modality``.

    Resampling: ``average`` for radiance (``hr``, ``lr``, ``radiance``), ``population`` (totals
    conserved through densities) and fractions (``isp``, ``fraction``); ``bilinear`` for ``dem``,
    ``dmo`` and ``reflectance``; ``mode`` for ``classes``.

    Args:
        aux: DataArray from :func:`deeplight.io.read_raster` (``(y, x)`` or ``(band, y, x)``).
        like: DataArray whose grid (CRS, transform, shape) is the target.
        modality: modality name (see :mod:`deeplight.io.modalities`).

    Returns:
        DataArray on ``like``'s grid, float32, NaN where ``aux`` does not cover it; ``attrs`` of
        ``aux`` kept plus ``resampling``.

    Raises:
        RasterError: ``aux`` or ``like`` lacks a CRS, or ``aux`` does not overlap ``like`` at all.
        ValueError: unknown modality.
    """
    if aux.rio.crs is None:
        raise RasterError(f"{aux.attrs.get('source_path', 'auxiliary raster')}: has no CRS")
    dst_crs, dst_transform, height, width = _grid_of(like)
    values = np.asarray(aux.values, dtype=np.float32)
    out = reproject_array(
        values,
        aux.rio.crs,
        aux.rio.transform(recalc=False),
        dst_crs,
        dst_transform,
        (height, width),
        modality,
    )
    if not np.isfinite(out).any():
        raise RasterError(
            f"{aux.attrs.get('source_path', 'auxiliary raster')}: does not overlap the target grid "
            "(no valid pixel after reprojection); check that both cover the same area"
        )
    coords = {"y": like["y"].values, "x": like["x"].values}
    if out.ndim == 3:
        dims = ("band", "y", "x")
        coords["band"] = aux["band"].values
    else:
        dims = ("y", "x")
    result = xr.DataArray(out, dims=dims, coords=coords, attrs=dict(aux.attrs))
    result.attrs["resampling"] = get_modality(modality).resampling.name
    result = result.rio.write_crs(dst_crs).rio.write_transform(dst_transform)
    return result.rio.write_nodata(np.nan, encoded=False)
