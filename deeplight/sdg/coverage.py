"""Which cells of a grid each region covers, and by what fraction (exactextract).

exactextract (Baston, https://github.com/isciences/exactextract) computes the exact fraction of
each cell covered by a polygon, so a district boundary that cuts a 500 m pixel counts only its
covered part. Computed once per grid and reused by every product, threshold and indicator.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource

from deeplight.sdg.rasters import GridRaster
from deeplight.sdg.regions import REGION_COLUMN


@dataclass
class RegionCoverage:
    """The cells of one grid covered by one region.

    Attributes:
        region: the region's name.
        cells: flat (row-major) indices into the grid, int64 (N,).
        fraction: covered fraction of each cell, float64 (N,) in (0, 1].
        note: why the region has no cells ("" when it has some).
    """

    region: str
    cells: np.ndarray
    fraction: np.ndarray
    note: str = ""


def region_coverage(regions: gpd.GeoDataFrame, grid: GridRaster) -> list[RegionCoverage]:
    """Covered cells of ``grid`` for every region, in the order of ``regions``.

    Args:
        regions: output of ``load_regions`` (any CRS; reprojected to the grid's CRS here).
        grid: the raster whose grid is used (its values are not read).

    Returns:
        One :class:`RegionCoverage` per region; regions with an empty geometry or no overlap get
        empty arrays and a ``note``.
    """
    height, width = grid.shape
    t = grid.transform
    xmin, ymax = t.c, t.f
    xmax, ymin = t.c + t.a * width, t.f + t.e * height
    projected = regions.to_crs(grid.crs)
    out: list[RegionCoverage] = [
        RegionCoverage(name, np.empty(0, np.int64), np.empty(0)) for name in regions[REGION_COLUMN]
    ]
    usable = [i for i, g in enumerate(projected.geometry) if g is not None and not g.is_empty]
    for i, geom in enumerate(projected.geometry):
        if geom is None or geom.is_empty:
            out[i].note = "empty geometry"
    if not usable:
        return out
    subset = projected.iloc[usable][[REGION_COLUMN, "geometry"]].reset_index(drop=True)
    source = NumPyRasterSource(
        np.zeros((height, width), dtype=np.float32), xmin, ymin, xmax, ymax, srs_wkt=grid.crs.to_wkt()
    )
    table = exact_extract(source, subset, ["cell_id", "coverage"], output="pandas")
    for row_pos, index in enumerate(usable):
        cells = np.asarray(table["cell_id"].iloc[row_pos], dtype=np.int64)
        fraction = np.asarray(table["coverage"].iloc[row_pos], dtype=np.float64)
        keep = fraction > 0
        out[index].cells = cells[keep]
        out[index].fraction = fraction[keep]
        if not keep.any():
            out[index].note = f"no overlap with the raster {grid.source}"
    return out
