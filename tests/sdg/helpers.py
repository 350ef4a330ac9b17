"""Tiny georeferenced rasters and regions made by code for the SDG tests."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine

EQUAL_AREA = "EPSG:6933"
CELL_M = 1000.0
ORIGIN = (0.0, 4_000.0)  # upper-left corner (x, y) in EPSG:6933 metres, near the equator


def write_raster(
    path: Path,
    values: np.ndarray,
    *,
    crs: str = EQUAL_AREA,
    transform: Affine | None = None,
    nodata: float | None = None,
    tags: dict | None = None,
) -> Path:
    """Write a single-band float32 GeoTIFF (default: 1 km cells in EPSG:6933 from ORIGIN)."""
    transform = transform or Affine(CELL_M, 0, ORIGIN[0], 0, -CELL_M, ORIGIN[1])
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=values.shape[0],
        width=values.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(values.astype(np.float32), 1)
        if tags:
            dst.update_tags(**tags)
    return path


def cell_box(row0: float, col0: float, row1: float, col1: float) -> shapely.Polygon:
    """Polygon covering grid rows row0..row1 and cols col0..col1 (fractions allowed) of the default grid."""
    x0, y0 = ORIGIN
    return shapely.box(x0 + col0 * CELL_M, y0 - row1 * CELL_M, x0 + col1 * CELL_M, y0 - row0 * CELL_M)


def regions_frame(geometries: dict[str, shapely.Geometry], crs: str = EQUAL_AREA) -> gpd.GeoDataFrame:
    """A GeoDataFrame with a ``name`` column."""
    return gpd.GeoDataFrame({"name": list(geometries)}, geometry=list(geometries.values()), crs=crs)
