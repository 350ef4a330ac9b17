"""Which cells of a grid each region covers, and by what fraction (exactextract).

exactextract (Baston, https://github.com/isciences/exactextract) computes the exact fraction of
each cell covered by a polygon, so a district boundary that cuts a 500 m pixel counts only its
covered part. Computed once per grid and reused by every product, threshold and indicator.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from pyproj import CRS
from rasterio.warp import transform_bounds

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


def _regions_near_grid(
    regions: gpd.GeoDataFrame, grid: GridRaster, grid_bounds: tuple[float, float, float, float]
) -> np.ndarray:
    """Boolean per region: its bounding box meets the grid's footprint (both in the regions' CRS).

    Regions far from the grid are never reprojected into its CRS, where they may not exist
    (a UTM zone or LAEA cannot represent the other side of the globe).
    """
    if regions.crs is None or CRS.from_user_input(regions.crs) == grid.crs:
        footprint = shapely.box(*grid_bounds)
    else:
        try:
            footprint = shapely.box(*transform_bounds(grid.crs, regions.crs, *grid_bounds, densify_pts=21))
        except Exception:  # the footprint cannot be expressed in the regions' CRS: test every region
            return np.ones(len(regions), dtype=bool)
        minx, miny, maxx, maxy = footprint.bounds
        pad_x, pad_y = 0.01 * (maxx - minx), 0.01 * (maxy - miny)
        footprint = shapely.box(minx - pad_x, miny - pad_y, maxx + pad_x, maxy + pad_y)
    if not np.all(np.isfinite(footprint.bounds)):
        return np.ones(len(regions), dtype=bool)
    return np.array([g is not None and not g.is_empty and g.intersects(footprint) for g in regions.geometry])


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
    out: list[RegionCoverage] = [
        RegionCoverage(name, np.empty(0, np.int64), np.empty(0)) for name in regions[REGION_COLUMN]
    ]
    candidates = _regions_near_grid(regions, grid, (xmin, ymin, xmax, ymax))
    usable = []
    projected_geometries = {}
    for i, geom in enumerate(regions.geometry):
        if geom is None or geom.is_empty:
            out[i].note = "empty geometry"
        elif not candidates[i]:
            out[i].note = f"no overlap with the raster {grid.source}"
    selected = [i for i in range(len(regions)) if candidates[i] and not out[i].note]
    if selected:
        moved = regions.iloc[selected].to_crs(grid.crs).geometry
        for i, geom in zip(selected, moved, strict=True):
            if geom is None or geom.is_empty or not np.all(np.isfinite(geom.bounds)):
                out[i].note = f"no overlap with the raster {grid.source} (outside its projection's domain)"
                continue
            usable.append(i)
            projected_geometries[i] = geom
    if not usable:
        return out
    projected = gpd.GeoDataFrame(
        {REGION_COLUMN: [out[i].region for i in usable]},
        geometry=[projected_geometries[i] for i in usable],
        crs=grid.crs,
    )
    source = NumPyRasterSource(
        np.zeros((height, width), dtype=np.float32), xmin, ymin, xmax, ymax, srs_wkt=grid.crs.to_wkt()
    )
    table = exact_extract(source, projected, ["cell_id", "coverage"], output="pandas")
    for row_pos, index in enumerate(usable):
        cells = np.asarray(table["cell_id"].iloc[row_pos], dtype=np.int64)
        fraction = np.asarray(table["coverage"].iloc[row_pos], dtype=np.float64)
        keep = fraction > 0
        out[index].cells = cells[keep]
        out[index].fraction = fraction[keep]
        if not keep.any():
            out[index].note = f"no overlap with the raster {grid.source}"
    return out
