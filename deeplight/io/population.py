"""The project's one population warp: people counts moved onto another grid with totals conserved.

A population raster (people per cell) usually comes on another grid or CRS (WorldPop 1 km in
EPSG:4326, GHS-POP in Mollweide). Resampling counts directly is wrong: up-sampling 1 km to 500 m
would count each person four times. :func:`warp_population` instead:

1. counts -> density (people/km^2) with each source cell's true area (:func:`pixel_area_m2`, the
   WGS84 ellipsoid);
2. density resampled onto the target grid (GDAL "average", area-weighted);
3. density -> counts with each target cell's true area;
4. the counts are rescaled so that their total equals the source total inside the target grid's
   footprint (measured with the exactextract covered fractions of :mod:`deeplight.io.coverage` on
   the source grid): totals are conserved exactly, and the total before rescaling is reported.

Both callers use it: the indicators (``deeplight.sdg.population.population_on_grid``, the
population of ``deeplight sdg --population`` and of the dashboard's scenes) and
:func:`deeplight.io.reproject.reproject_array` with the ``population`` modality (the dashboard's
real data sets warp their population raster onto the HR grid with it).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.warp import Resampling, reproject

from deeplight.errors import RasterError
from deeplight.io.coverage import Grid, grids_match, region_coverage
from deeplight.io.pixel_area import pixel_area_m2
from deeplight.io.regions import REGION_COLUMN


@dataclass
class PopulationWarp:
    """People counts on a target grid.

    Attributes:
        counts: ``(height, width)`` float64 people per target cell, NaN where unknown.
        source_total: people of the source raster inside the target grid's footprint.
        resampled_total: people on the target grid after density resampling, before rescaling.
        reprojected: whether the source was on another grid (else ``counts`` is the source).
        message: a sentence saying what was done (for metadata and warnings).
    """

    counts: np.ndarray
    source_total: float
    resampled_total: float
    reprojected: bool
    message: str


def footprint_total(values: np.ndarray, source: Grid, target: Grid) -> float:
    """People of ``values`` (on ``source``) inside the rectangle of ``target`` (covered fractions)."""
    height, width = target.shape
    t = target.transform
    box = shapely.box(t.c, t.f + t.e * height, t.c + t.a * width, t.f)
    footprint = gpd.GeoDataFrame({REGION_COLUMN: ["footprint"]}, geometry=[box], crs=target.crs)
    # densify so the rectangle stays faithful after reprojection into a curved CRS
    footprint["geometry"] = footprint.geometry.segmentize(max(abs(t.a) * width, abs(t.e) * height) / 64)
    coverage = region_coverage(footprint, source)[0]
    people = np.asarray(values, dtype=np.float64).ravel()[coverage.cells]
    keep = np.isfinite(people)
    return float(np.sum(people[keep] * coverage.fraction[keep]))


def warp_population(
    values: np.ndarray,
    src_transform: Affine,
    src_crs: CRS | str,
    dst_transform: Affine,
    dst_crs: CRS | str,
    dst_shape: tuple[int, int],
    *,
    source: str = "population raster",
) -> PopulationWarp:
    """People per cell of the target grid, totals conserved (see the module docstring).

    Args:
        values: ``(height, width)`` people per source cell, NaN = nodata.
        src_transform, src_crs: the source grid (north-up).
        dst_transform, dst_crs, dst_shape: the target grid (height, width).
        source: how messages name the raster (its path).

    Returns:
        :class:`PopulationWarp`; on the same grid, the values unchanged.

    Raises:
        RasterError: ``values`` is not 2-D, a grid lacks a CRS or is rotated.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise RasterError(f"{source}: a population warp takes one band (height, width), got shape {values.shape}")
    if src_crs is None or dst_crs is None:
        raise RasterError(f"{source}: the population raster and the target grid both need a CRS")
    src = Grid(values.shape, src_transform, CRS.from_user_input(src_crs), source)
    dst = Grid(tuple(int(n) for n in dst_shape), dst_transform, CRS.from_user_input(dst_crs), "the target grid")
    if grids_match(src, dst):
        total = float(np.nansum(values))
        return PopulationWarp(values, total, total, False, "population on the same grid as the product")
    density = values / (pixel_area_m2(src.transform, src.crs, src.shape) / 1e6)
    target_density = np.full(dst.shape, np.nan, dtype=np.float64)
    reproject(
        source=density,
        destination=target_density,
        src_transform=src.transform,
        src_crs=src.crs.to_wkt(),
        src_nodata=np.nan,
        dst_transform=dst.transform,
        dst_crs=dst.crs.to_wkt(),
        dst_nodata=np.nan,
        resampling=Resampling.average,
    )
    counts = target_density * (pixel_area_m2(dst.transform, dst.crs, dst.shape) / 1e6)
    resampled_total = float(np.nansum(counts))
    source_total = footprint_total(values, src, dst)
    if resampled_total > 0:
        counts = counts * (source_total / resampled_total)
    message = (
        f"population {source} ({src.crs.to_string()}) reprojected onto the "
        f"{dst.crs.to_string()} product grid as density (average) and rescaled to conserve its total: "
        f"{source_total:,.0f} people in the footprint "
        f"(resampled total before rescaling {resampled_total:,.0f})"
    )
    return PopulationWarp(counts, source_total, resampled_total, True, message)
