"""GeoRaster (deeplight.io.georaster): paths and DataArrays, nodata, south-up grids, windows, reprojection."""

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine

from deeplight.errors import RasterError
from deeplight.io.georaster import GeoRaster, read_georaster, reproject_like
from tests.sdg.helpers import write_raster


def test_path_with_nodata_and_tags(tmp_path):
    values = np.array([[1.0, -9.0], [3.0, 4.0]])
    path = write_raster(
        tmp_path / "a.tif", values, nodata=-9.0, tags={"units": "nW/cm2/sr", "simulated": "true"}
    )
    raster = read_georaster(path)
    assert np.isnan(raster.values[0, 1]) and raster.values[1, 1] == 4.0
    assert raster.simulated and raster.units == "nW/cm2/sr"
    assert raster.crs.to_epsg() == 6933


def test_dataarray_and_south_up_grid():
    values = np.arange(6, dtype=float).reshape(2, 3)
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": [0.5, 1.5], "x": [0.5, 1.5, 2.5]})
    da = da.rio.write_crs("EPSG:6933").rio.write_transform(Affine(1, 0, 0, 0, 1, 0))
    raster = read_georaster(da)
    assert raster.transform.e < 0
    np.testing.assert_array_equal(raster.values, values[::-1])
    with pytest.raises(RasterError, match="no CRS"):
        read_georaster(xr.DataArray(values, dims=("y", "x")).rio.write_transform(Affine(1, 0, 0, 0, -1, 0)))


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_missing_file_and_missing_crs(tmp_path):
    with pytest.raises(RasterError, match=r"HR raster .*nope.tif: file not found"):
        read_georaster(tmp_path / "nope.tif", name="HR raster")
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", height=2, width=2, count=1, dtype="float32") as dst:
        dst.write(np.ones((1, 2, 2), dtype=np.float32))
    with pytest.raises(RasterError, match="has no CRS: assign one"):
        read_georaster(path)


def test_reproject_to_same_grid_is_identity(tmp_path):
    raster = read_georaster(write_raster(tmp_path / "a.tif", np.ones((3, 3))))
    assert reproject_like(raster, raster) is raster


def test_a_georaster_is_returned_north_up(tmp_path):
    values = np.arange(6, dtype=float).reshape(2, 3)
    south_up = GeoRaster(values, Affine(1, 0, 0, 0, 1, 0), read_georaster(write_raster(tmp_path / "a.tif", values)).crs, "s")
    raster = read_georaster(south_up)
    assert raster.transform.e < 0 and raster.transform.f == 2
    np.testing.assert_array_equal(raster.values, values[::-1])
    assert read_georaster(raster) is raster


def test_bounds_read_only_the_window_around_them(tmp_path):
    """The window around some bounds (plus a pixel), through the one window reader, float64."""
    values = np.arange(100, dtype=np.float64).reshape(10, 10) + 0.125
    path = write_raster(tmp_path / "a.tif", values)
    whole = read_georaster(path)
    x0, y0 = whole.transform @ (3, 6)
    x1, y1 = whole.transform @ (5, 4)
    part = read_georaster(path, bounds=(x0, y0, x1, y1))
    assert part.shape == (4, 4) and part.values.dtype == np.float64
    np.testing.assert_array_equal(part.values, whole.values[3:7, 2:6])
    assert part.transform == whole.transform @ Affine.translation(2, 3)
