"""Region membership: which cells of a grid a region covers, and by what fraction (exactextract).

The project's one rule for "is this cell in the region": the exact covered fraction of each cell
(exactextract, Baston, https://github.com/isciences/exactextract), so a district boundary that cuts
a 500 m pixel counts only its covered part. The indicators weight every cell by it
(:func:`region_coverage`, computed once per grid and reused by every product, threshold and
indicator), the population warp measures its source total with it, and the dashboard's crop holds
it as a raster (:func:`coverage_fraction`). Where a yes/no answer is needed (the region's pixels of
the full-reference metrics, what a map outlines) it is derived from the fractions by
:func:`membership_mask`: a cell belongs when at least :data:`MASK_MIN_FRACTION` of it is covered,
or, for a region smaller than every cell's half, when any part of it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource
from pyproj import CRS
from rasterio.warp import transform_bounds
from shapely.geometry.base import BaseGeometry

from deeplight.errors import RasterError
from deeplight.io.regions import REGION_COLUMN

MASK_MIN_FRACTION = 0.5
"""A cell is in a region's yes/no mask when at least this share of its area is covered."""


class GridLike(Protocol):
    """What the membership functions read of a grid: ``shape`` (height, width), ``transform``
    (north-up affine), ``crs`` and ``source`` (named in notes). :class:`deeplight.io.georaster.GeoRaster`
    and :class:`Grid` are both grids."""

    shape: tuple[int, int]
    transform: Affine
    crs: CRS
    source: str


@dataclass(frozen=True)
class Grid:
    """A bare grid description (no values): shape (height, width), transform, CRS and a name."""

    shape: tuple[int, int]
    transform: Affine
    crs: CRS
    source: str = "the raster"


def transforms_match(a: Affine, b: Affine, rel: float = 1e-9) -> bool:
    """Whether two affine transforms are equal to float noise: every coefficient within ``rel`` of the
    larger magnitude (at least 1), so a UTM origin of 5e5 m and a pixel of 1e-3 degrees are judged alike."""
    return all(abs(x - y) <= rel * max(1.0, abs(x), abs(y)) for x, y in zip(tuple(a)[:6], tuple(b)[:6]))


def grids_match(a: GridLike, b: GridLike, rel: float = 1e-9) -> bool:
    """Whether two grids (``shape``, ``transform``, ``crs``) are the same: the one rule of the project
    (scenes, GeoRasters, the population warp, uploads)."""
    return tuple(a.shape) == tuple(b.shape) and a.crs == b.crs and transforms_match(a.transform, b.transform, rel)


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
    regions: gpd.GeoDataFrame, grid: GridLike, grid_bounds: tuple[float, float, float, float]
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


def region_coverage(regions: gpd.GeoDataFrame, grid: GridLike) -> list[RegionCoverage]:
    """Covered cells of ``grid`` for every region, in the order of ``regions``.

    Args:
        regions: output of ``load_regions`` (any CRS; reprojected to the grid's CRS here).
        grid: the grid (:class:`GridLike`; a raster's values are not read).

    Returns:
        One :class:`RegionCoverage` per region; regions with an empty geometry or no overlap get
        empty arrays and a ``note``.
    """
    grid = Grid(tuple(grid.shape), grid.transform, CRS.from_user_input(grid.crs), str(grid.source))
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


def coverage_fraction(geometry: BaseGeometry | gpd.GeoDataFrame, grid: GridLike) -> np.ndarray:
    """The covered fraction of every cell of ``grid`` by a region, as a raster.

    The same numbers as :func:`region_coverage` (one rule for membership), scattered onto the grid.

    Args:
        geometry: the region, a shapely geometry in the grid's CRS, or a GeoDataFrame of regions in
            any CRS (their union: a cell covered by two overlapping regions counts once, capped at 1).
        grid: the grid.

    Returns:
        ``(height, width)`` float64 in [0, 1]; 0 outside the region.
    """
    if isinstance(geometry, gpd.GeoDataFrame):
        frame = geometry.to_crs(grid.crs) if geometry.crs is not None else geometry.set_crs(grid.crs)
        geometry = frame.geometry.union_all()
    frame = gpd.GeoDataFrame({REGION_COLUMN: ["region"]}, geometry=[geometry], crs=grid.crs)
    fraction = np.zeros(int(grid.shape[0]) * int(grid.shape[1]), dtype=np.float64)
    coverage = region_coverage(frame, grid)[0]
    fraction[coverage.cells] = coverage.fraction
    return np.clip(fraction, 0.0, 1.0).reshape(grid.shape)


def membership_mask(fraction: np.ndarray, min_fraction: float = MASK_MIN_FRACTION) -> np.ndarray:
    """The yes/no membership derived from covered fractions (the one documented rule).

    A cell is in the mask when ``fraction >= min_fraction`` (default: half of it covered). A region
    that covers no cell that much (smaller than half a cell, or a thin sliver) keeps every cell it
    touches (``fraction > 0``), so a small region is never empty.

    Args:
        fraction: covered fractions in [0, 1] (:func:`coverage_fraction`).
        min_fraction: the share of a cell that must be covered, in (0, 1].

    Returns:
        Boolean array of the same shape.

    Raises:
        RasterError: ``min_fraction`` outside (0, 1].
    """
    if not 0.0 < min_fraction <= 1.0:
        raise RasterError(f"membership_mask: min_fraction must be in (0, 1], got {min_fraction!r}")
    fraction = np.asarray(fraction, dtype=np.float64)
    mask = fraction >= min_fraction
    if not mask.any():
        mask = fraction > 0.0
    return mask
