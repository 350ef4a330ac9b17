"""Population counts on a night-light product's grid, and people per region.

:func:`population_on_grid` is the indicators' adapter to the project's one population warp,
:func:`deeplight.io.population.warp_population` (counts -> density with ellipsoidal cell areas ->
average -> counts, rescaled so the total in the target's footprint is conserved exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np

from deeplight.io.coverage import region_coverage
from deeplight.io.population import warp_population
from deeplight.io.georaster import GeoRaster


@dataclass
class PopulationOnGrid:
    """Population counts on a target grid.

    Attributes:
        counts: GeoRaster of people per target cell (NaN where unknown).
        source_total: people in the source raster inside the target grid's footprint.
        resampled_total: people on the target grid after density resampling, before rescaling.
        reprojected: whether the source was on another grid (else ``counts`` is the source).
        message: a sentence saying what was done (for metadata and warnings).
    """

    counts: GeoRaster
    source_total: float
    resampled_total: float
    reprojected: bool
    message: str


def population_on_grid(population: GeoRaster, like: GeoRaster) -> PopulationOnGrid:
    """People per cell of ``like``'s grid, totals conserved (:func:`deeplight.io.population.warp_population`).

    Args:
        population: people per source cell (NaN nodata), any CRS and grid.
        like: the target grid (its values are not used).
    """
    if population.same_grid(like):
        total = float(np.nansum(population.values))
        return PopulationOnGrid(population, total, total, False, "population on the same grid as the product")
    warp = warp_population(
        population.values, population.transform, population.crs, like.transform, like.crs, like.shape,
        source=population.source,
    )
    return PopulationOnGrid(
        GeoRaster(warp.counts, like.transform, like.crs, population.source, dict(population.tags)),
        warp.source_total,
        warp.resampled_total,
        warp.reprojected,
        warp.message,
    )


def population_per_region(population: GeoRaster, regions: gpd.GeoDataFrame) -> dict[str, float]:
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
