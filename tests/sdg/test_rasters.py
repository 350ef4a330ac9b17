"""Reading products: paths and DataArrays, nodata, south-up grids, DN detection, reprojection."""

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine

from deeplight.errors import RasterError
from deeplight.sdg.rasters import dn_to_radiance, is_dn_product, read_grid_raster, reproject_grid
from tests.sdg.helpers import write_raster


def test_path_with_nodata_and_tags(tmp_path):
    values = np.array([[1.0, -9.0], [3.0, 4.0]])
    path = write_raster(
        tmp_path / "a.tif", values, nodata=-9.0, tags={"units": "nW/cm2/sr", "simulated": "true"}
    )
    raster = read_grid_raster(path)
    assert np.isnan(raster.values[0, 1]) and raster.values[1, 1] == 4.0
    assert raster.simulated and raster.units == "nW/cm2/sr"
    assert raster.crs.to_epsg() == 6933


def test_dataarray_and_south_up_grid():
    values = np.arange(6, dtype=float).reshape(2, 3)
    da = xr.DataArray(values, dims=("y", "x"), coords={"y": [0.5, 1.5], "x": [0.5, 1.5, 2.5]})
    da = da.rio.write_crs("EPSG:6933").rio.write_transform(Affine(1, 0, 0, 0, 1, 0))
    raster = read_grid_raster(da)
    assert raster.transform.e < 0
    np.testing.assert_array_equal(raster.values, values[::-1])
    with pytest.raises(RasterError, match="no CRS"):
        read_grid_raster(xr.DataArray(values, dims=("y", "x")).rio.write_transform(Affine(1, 0, 0, 0, -1, 0)))


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_missing_file_and_missing_crs(tmp_path):
    with pytest.raises(RasterError, match=r"HR raster .*nope.tif: file not found"):
        read_grid_raster(tmp_path / "nope.tif", name="HR raster")
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", height=2, width=2, count=1, dtype="float32") as dst:
        dst.write(np.ones((1, 2, 2), dtype=np.float32))
    with pytest.raises(RasterError, match="has no CRS: assign one"):
        read_grid_raster(path)


def test_dn_detection_and_conversion(tmp_path):
    dn = np.array([[0.0, 6.0], [30.0, 63.0]])
    untagged = read_grid_raster(write_raster(tmp_path / "lr.tif", dn))
    assert is_dn_product(untagged, product="lr")
    assert not is_dn_product(untagged, product="hr")
    assert not is_dn_product(untagged, "nW/cm2/sr", product="lr")
    radiance, how = dn_to_radiance(dn)
    assert radiance[0, 1] == pytest.approx(1.0)  # DN 6 <-> 1 nW/cm2/sr (nominal response)
    assert radiance[1, 1] == pytest.approx((63 / 6) ** (1 / 0.6))
    assert "nominal calibration" in how


def test_reproject_to_same_grid_is_identity(tmp_path):
    raster = read_grid_raster(write_raster(tmp_path / "a.tif", np.ones((3, 3))))
    assert reproject_grid(raster, raster) is raster
