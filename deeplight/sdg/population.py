"""Population counts moved onto a night-light grid with totals conserved.

A population raster (people per cell) usually comes on another grid or CRS (WorldPop 1 km in
EPSG:4326, GHS-POP in Mollweide). Resampling counts directly is wrong: up-sampling 1 km to 500 m
would count each person four times. Instead:
1. counts -> density (people/km^2) with each source cell's true area;
2. density resampled onto the target grid (GDAL "average", area-weighted);
3. density -> counts with each target cell's true area;
4. the counts are rescaled so that their total equals the source total inside the target grid's
   footprint (measured with exactextract on the source grid): totals are conserved exactly, and
   the correction factor before rescaling is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from rasterio.warp import Resampling

from deeplight.sdg.coverage import region_coverage
from deeplight.sdg.pixel_area import pixel_area_m2
from deeplight.sdg.rasters import GridRaster, reproject_grid
from deeplight.sdg.regions import REGION_COLUMN


@dataclass
class PopulationOnGrid:
    """Population counts on a target grid.

    Attributes:
        counts: GridRaster of people per target cell (NaN where unknown).
        source_total: people in the source raster inside the target grid's footprint.
        resampled_total: people on the target grid after density resampling, before rescaling.
        reprojected: whether the source was on another grid (else ``counts`` is the source).
        message: a sentence saying what was done (for metadata and warnings).
    """

    counts: GridRaster
    source_total: float
    resampled_total: float
    reprojected: bool
    message: str


def _footprint_total(population: GridRaster, like: GridRaster) -> float:
    """People of ``population`` inside the rectangle of ``like``'s grid (fractional coverage)."""
    height, width = like.shape
    t = like.transform
    box = shapely.box(t.c, t.f + t.e * height, t.c + t.a * width, t.f)
    footprint = gpd.GeoDataFrame({REGION_COLUMN: ["footprint"]}, geometry=[box], crs=like.crs)
    # densify so the rectangle stays faithful after reprojection into a curved CRS
    footprint["geometry"] = footprint.geometry.segmentize(max(abs(t.a) * width, abs(t.e) * height) / 64)
    coverage = region_coverage(footprint, population)[0]
    values = population.values.ravel()[coverage.cells]
    keep = np.isfinite(values)
    return float(np.sum(values[keep] * coverage.fraction[keep]))


def population_on_grid(population: GridRaster, like: GridRaster) -> PopulationOnGrid:
    """People per cell of ``like``'s grid, totals conserved (see module docstring).

    Args:
        population: people per source cell (NaN nodata), any CRS and grid.
        like: the target grid (its values are not used).
    """
    if population.same_grid(like):
        total = float(np.nansum(population.values))
        return PopulationOnGrid(population, total, total, False, "population on the same grid as the product")
    source_area = pixel_area_m2(population.transform, population.crs, population.shape) / 1e6
    density = GridRaster(
        population.values / source_area,
        population.transform,
        population.crs,
        population.source,
        dict(population.tags),
    )
    target_density = reproject_grid(density, like, Resampling.average)
    target_area = pixel_area_m2(like.transform, like.crs, like.shape) / 1e6
    counts = target_density.values * target_area
    resampled_total = float(np.nansum(counts))
    source_total = _footprint_total(population, like)
    if resampled_total > 0:
        counts = counts * (source_total / resampled_total)
    message = (
        f"population {population.source} ({population.crs.to_string()}) reprojected onto the "
        f"{like.crs.to_string()} product grid as density (average) and rescaled to conserve its total: "
        f"{source_total:,.0f} people in the footprint "
        f"(resampled total before rescaling {resampled_total:,.0f})"
    )
    return PopulationOnGrid(
        GridRaster(counts, like.transform, like.crs, population.source, dict(population.tags)),
        source_total,
        resampled_total,
        True,
        message,
    )


def population_per_region(population: GridRaster, regions: gpd.GeoDataFrame) -> dict[str, float]:
    """People per region on the population raster's own grid: sum_i Pop_i c_i (c_i covered fraction).

    The regions are reprojected to the raster's CRS; nothing is resampled, so this is the reference
    against which the reprojected counts are checked. Regions without overlap give NaN.

    Args:
        population: people per cell (NaN nodata).
        regions: output of ``load_regions``.

    Returns:
        region name -> people.
    """
    out: dict[str, float] = {}
    values = population.values.ravel()
    for coverage in region_coverage(regions, population):
        if coverage.cells.size == 0:
            out[coverage.region] = float("nan")
            continue
        people = values[coverage.cells] * coverage.fraction
        out[coverage.region] = float(np.nansum(people))
    return out
