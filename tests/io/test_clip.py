"""clip_to_region: bbox, geometry, GeoDataFrame (reprojected); RegionError when no overlap."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from deeplight.errors import RegionError
from deeplight.io import clip_to_region, read_raster
from tests.io.rasters import HR_TRANSFORM, UTM50, write_plain_tif


@pytest.fixture()
def raster(tmp_path):
    values = np.arange(64 * 64, dtype="f4").reshape(64, 64)
    return read_raster(write_plain_tif(tmp_path / "r.tif", values))


def test_bbox_crops_to_the_box(raster):
    x0, y0 = HR_TRANSFORM.c, HR_TRANSFORM.f
    out = clip_to_region(raster, (x0 + 130 * 10, y0 - 130 * 30, x0 + 130 * 20, y0 - 130 * 20))
    assert out.shape == (10, 10)
    assert out.rio.transform().c == pytest.approx(x0 + 1300)
    assert float(out.values[0, 0]) == 20 * 64 + 10


def test_geometry_masks_outside(raster):
    x0, y0 = HR_TRANSFORM.c, HR_TRANSFORM.f
    disc = Point(x0 + 130 * 32, y0 - 130 * 32).buffer(130 * 10)
    out = clip_to_region(raster, disc)
    assert np.isnan(out.values[0, 0]) and np.isfinite(out.values[10, 10])


def test_geodataframe_in_other_crs(shared_data):
    ntl = read_raster(shared_data / "cote_divoire" / "ntl.tif")
    regions = gpd.read_file(shared_data / "cote_divoire" / "adm1_rf_zonal.geojson")
    one = regions.iloc[[0]].to_crs("EPSG:32630")  # any CRS: it is brought to the raster's
    out = clip_to_region(ntl, one)
    assert out.shape[0] < ntl.shape[0] and np.isfinite(out.values).any()
    assert out.rio.crs == ntl.rio.crs


def test_bbox_in_other_crs(raster):
    lon_lat = gpd.GeoSeries([box(*raster.rio.bounds())], crs=UTM50).to_crs(4326).total_bounds
    out = clip_to_region(raster, tuple(lon_lat), region_crs="EPSG:4326")
    assert out.shape == raster.shape


def test_no_overlap(raster):
    with pytest.raises(RegionError, match="does not overlap the raster"):
        clip_to_region(raster, (0.0, 0.0, 10.0, 10.0))


def test_touggourt_aoi_outside_cote_divoire(shared_data):
    ntl = read_raster(shared_data / "cote_divoire" / "ntl.tif")
    aoi = gpd.read_file(next((shared_data / "touggourt").glob("*.geojson")))
    with pytest.raises(RegionError, match="does not overlap"):
        clip_to_region(ntl, aoi)


def test_bad_regions(raster):
    with pytest.raises(RegionError, match="needs 4 numbers"):
        clip_to_region(raster, (1.0, 2.0, 3.0))
    with pytest.raises(RegionError, match="is empty"):
        clip_to_region(raster, (5.0, 5.0, 1.0, 1.0))
    with pytest.raises(RegionError, match="no CRS"):
        clip_to_region(raster, gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]))
