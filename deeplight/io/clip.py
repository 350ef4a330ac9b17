"""Clipping rasters to a region: a bounding box, a shapely geometry, or a GeoDataFrame/GeoSeries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rioxarray.exceptions import NoDataInBounds, OneDimensionalRaster
from shapely.geometry import box, mapping
from shapely.geometry.base import BaseGeometry

from deeplight.errors import RegionError

Region = BaseGeometry | Sequence[float] | object  # GeoDataFrame / GeoSeries accepted too


def _region_geometry(region: Region, region_crs, raster_crs: CRS) -> BaseGeometry:
    """The region as one shapely geometry in the raster's CRS."""
    if hasattr(region, "geometry") or hasattr(region, "union_all"):  # GeoDataFrame / GeoSeries
        geoseries = region.geometry if hasattr(region, "geometry") else region
        if len(geoseries) == 0:
            raise RegionError("the region has no features")
        if geoseries.crs is None and region_crs is None:
            raise RegionError("the region has no CRS; set one (e.g. gdf.set_crs('EPSG:4326'))")
        if geoseries.crs is None:
            geoseries = geoseries.set_crs(region_crs)
        return geoseries.to_crs(ProjCRS.from_user_input(raster_crs.to_wkt())).union_all()
    if isinstance(region, BaseGeometry):
        geometry = region
    else:
        coords = list(region)  # type: ignore[arg-type]
        if len(coords) != 4:
            raise RegionError(f"a bbox needs 4 numbers (minx, miny, maxx, maxy), got {coords}")
        minx, miny, maxx, maxy = map(float, coords)
        if not (minx < maxx and miny < maxy):
            raise RegionError(f"bbox {coords} is empty: need minx < maxx and miny < maxy")
        geometry = box(minx, miny, maxx, maxy)
    if region_crs is not None and CRS.from_user_input(region_crs) != raster_crs:
        import geopandas as gpd

        geometry = (
            gpd.GeoSeries([geometry], crs=region_crs)
            .to_crs(ProjCRS.from_user_input(raster_crs.to_wkt()))
            .iloc[0]
        )
    return geometry


def clip_to_region(
    da: xr.DataArray,
    region: Region,
    *,
    region_crs=None,
    all_touched: bool = True,
    crop: bool = True,
) -> xr.DataArray:
    """Clip a georeferenced DataArray to a region; pixels outside the region become NaN.

    Args:
        da: DataArray with ``.rio.crs`` (from :func:`deeplight.io.read_raster`).
        region: ``(minx, miny, maxx, maxy)`` bbox, a shapely geometry, or a GeoDataFrame /
            GeoSeries (its own CRS is used).
        region_crs: CRS of a bbox/geometry when it differs from the raster's (default: the
            raster's CRS).
        all_touched: keep every pixel the region touches (True) or only those whose centre is
            inside.
        crop: also shrink the array to the region's bounding box (True) or keep the full grid.

    Returns:
        The clipped DataArray (CRS and transform updated when cropped).

    Raises:
        RegionError: the region is empty, has no CRS, or does not overlap the raster.
    """
    if da.rio.crs is None:
        raise RegionError("the raster has no CRS, so a region cannot be placed on it")
    geometry = _region_geometry(region, region_crs, da.rio.crs)
    if geometry.is_empty:
        raise RegionError("the region geometry is empty")
    raster_box = box(*da.rio.bounds())
    if not geometry.intersects(raster_box) or geometry.intersection(raster_box).area <= 0:
        raise RegionError(
            f"the region (bounds {tuple(round(v, 6) for v in geometry.bounds)}) does not overlap the "
            f"raster {da.attrs.get('source_path', '')} (bounds "
            f"{tuple(round(v, 6) for v in da.rio.bounds())}, CRS {da.rio.crs}); check the region "
            "and its CRS"
        )
    try:
        clipped = da.rio.clip(
            [mapping(geometry)], crs=da.rio.crs, all_touched=all_touched, drop=crop, from_disk=False
        )
    except (NoDataInBounds, OneDimensionalRaster) as exc:
        raise RegionError(f"the region does not cover any whole pixel of the raster: {exc}") from None
    clipped = clipped.astype(np.float32)
    clipped.attrs = dict(da.attrs)
    return clipped.rio.write_nodata(np.nan, encoded=False)
