"""Warping auxiliary rasters onto a scene's grid with rasterio.warp, per-modality resampling.

Population counts are conserved: the ``population`` modality goes through the project's one
population warp, :func:`deeplight.io.population.warp_population` (densities with the ellipsoidal
cell areas of :func:`deeplight.io.pixel_area.pixel_area_m2`, averaged, back to counts, rescaled to
the source total in the target's footprint).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import Resampling, reproject

from deeplight.errors import RasterError
from deeplight.io.modalities import get_modality
from deeplight.io.pixel_area import pixel_area_m2  # noqa: F401  (re-exported: deeplight.io.pixel_area_m2)
from deeplight.io.population import warp_population


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
    modality: str | None,
    *,
    resampling: Resampling | None = None,
    dtype: type = np.float32,
) -> np.ndarray:
    """Warp a ``(y, x)`` or ``(band, y, x)`` float array (NaN = nodata) onto another grid: the one
    warp of the project (scene layers, and the indicators through
    :func:`deeplight.io.georaster.reproject_like`).

    Args:
        source: pixel values, NaN where invalid.
        src_crs, src_transform: source grid.
        dst_crs, dst_transform, dst_shape: target grid (height, width).
        modality: a name from :data:`deeplight.io.modalities.MODALITIES`; picks the resampling
            and, for ``population``, conserves totals (:func:`deeplight.io.population.warp_population`);
            None when ``resampling`` is given.
        resampling: the resampling to use instead of the modality's.
        dtype: of the result (the warp itself runs in float64).

    Returns:
        array of ``dtype`` on the target grid (same leading band axis as ``source``), NaN where no
        source pixel contributes.
    """
    if modality is None and resampling is None:
        raise ValueError("give a modality or a resampling")
    method = resampling if resampling is not None else get_modality(modality).resampling
    squeeze = source.ndim == 2
    bands = source[None] if squeeze else source
    src = bands.astype(np.float64)
    out = np.full((bands.shape[0], *dst_shape), np.nan, dtype=np.float64)
    for index in range(bands.shape[0]):
        if modality == "population" and resampling is None:
            out[index] = warp_population(src[index], src_transform, src_crs, dst_transform, dst_crs, dst_shape).counts
            continue
        reproject(
            source=src[index],
            destination=out[index],
            src_transform=src_transform,
            src_crs=src_crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs=dst_crs,
            dst_nodata=np.nan,
            resampling=method,
        )
    out = out.astype(dtype, copy=False)
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
