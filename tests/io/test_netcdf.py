"""read_netcdf_cube: CF lat/lon cubes and grid-mapped x/y cubes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from deeplight.errors import RasterError
from deeplight.io import read_netcdf_cube


def test_lat_lon_cube_is_geographic_and_north_up(tmp_path):
    lat = np.linspace(30.0, 31.0, 5)  # south-up on purpose
    lon = np.linspace(120.0, 121.5, 7)
    values = np.random.default_rng(0).random((3, 5, 7)).astype("f4")
    ds = xr.Dataset(
        {"ntl": (("time", "lat", "lon"), values)}, coords={"time": [2018, 2019, 2020], "lat": lat, "lon": lon}
    )
    path = tmp_path / "cube.nc"
    ds.to_netcdf(path)
    da = read_netcdf_cube(path)
    assert da.dims == ("time", "y", "x") and da.rio.crs.to_epsg() == 4326
    assert float(da.y[0]) > float(da.y[-1])
    np.testing.assert_allclose(da.values[:, 0], values[:, -1])
    assert da.rio.transform().e < 0


def test_projected_cube_needs_grid_mapping(tmp_path):
    ds = xr.Dataset(
        {"ntl": (("y", "x"), np.ones((4, 4), "f4"))}, coords={"y": np.arange(4.0)[::-1], "x": np.arange(4.0)}
    )
    path = tmp_path / "nocrs.nc"
    ds.to_netcdf(path)
    with pytest.raises(RasterError, match="has no CRS"):
        read_netcdf_cube(path)
    ds_crs = ds.rio.write_crs("EPSG:32650")
    path2 = tmp_path / "crs.nc"
    ds_crs.to_netcdf(path2)
    assert read_netcdf_cube(path2).rio.crs.to_epsg() == 32650


def test_bad_netcdf(tmp_path):
    with pytest.raises(RasterError, match="file not found"):
        read_netcdf_cube(tmp_path / "none.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("nope")
    with pytest.raises(RasterError, match="not a readable NetCDF"):
        read_netcdf_cube(bad)
    ds = xr.Dataset(
        {"a": (("lat", "lon"), np.ones((2, 2))), "b": (("lat", "lon"), np.ones((2, 2)))},
        coords={"lat": [1.0, 0.0], "lon": [0.0, 1.0]},
    )
    ds.to_netcdf(tmp_path / "two.nc")
    with pytest.raises(RasterError, match="choose a variable"):
        read_netcdf_cube(tmp_path / "two.nc")
    with pytest.raises(RasterError, match="no variable 'c'"):
        read_netcdf_cube(tmp_path / "two.nc", variable="c")
