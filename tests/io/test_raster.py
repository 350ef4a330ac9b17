"""read_raster / raster_grid: real files keep CRS, transform and nodata; bad files fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from deeplight.errors import RasterError
from deeplight.io import raster_grid, read_raster
from tests.io.rasters import HR_TRANSFORM, list_files, write_plain_tif


def test_every_shared_raster_keeps_crs_transform_and_nodata(shared_data):
    paths = sorted(shared_data.rglob("*.tif"))
    assert len(paths) >= 30
    for path in paths:
        da = read_raster(path)
        with rasterio.open(path) as src:
            assert da.rio.crs == src.crs, path
            assert da.rio.transform(recalc=False) == src.transform, path
            assert da.shape[-2:] == (src.height, src.width), path
            assert da.attrs["source_nodata"] == src.nodata or (
                src.nodata is not None and np.isnan(src.nodata)
            ), path
            raw = src.read(1)
            if src.nodata is not None:
                # nodata pixels became NaN, the others kept their value
                is_nodata = raw == src.nodata
                assert np.isnan(da.values[is_nodata]).all(), path
                assert np.allclose(da.values[~is_nodata], raw[~is_nodata], equal_nan=True), path
        assert da.dtype == np.float32


def test_known_grids_of_shared_data(shared_data):
    civ = read_raster(shared_data / "cote_divoire" / "ntl.tif")
    assert civ.rio.crs.to_epsg() == 4326
    assert civ.shape == (1420, 1361)
    assert civ.rio.transform().a == pytest.approx(0.00449158, rel=1e-5)
    assert civ.attrs["band_descriptions"] == ["avg_rad"]
    assert np.isnan(civ.values).any()  # NaN outside the country
    pop = read_raster(shared_data / "cote_divoire" / "pop.tif")
    assert pop.attrs["source_nodata"] == -99999.0
    assert np.nanmin(pop.values) >= 0  # no -99999 left
    assert float(np.nansum(pop.values)) == pytest.approx(31.3e6, rel=0.05)
    ghs = read_raster(shared_data / "touggourt" / "GHS_POP_E2015_GLOBE_R2019A_54009_1K_V1_0.tif")
    assert "Mollweide" in ghs.rio.crs.to_wkt() or ghs.rio.crs.to_string() == "ESRI:54009"
    assert ghs.rio.resolution() == (1000.0, -1000.0)
    mgup = read_raster(shared_data / "shanghai" / "real_sh_MGUP2018.tif")
    assert set(np.unique(mgup.values[np.isfinite(mgup.values)])) <= {0.0, 1.0}


def test_band_selection_and_expected_bands(tmp_path):
    path = write_plain_tif(tmp_path / "three.tif", np.arange(3 * 4 * 5, dtype="f4").reshape(3, 4, 5))
    assert read_raster(path).dims == ("band", "y", "x")
    second = read_raster(path, band=2)
    assert second.dims == ("y", "x") and float(second.values[0, 0]) == 20.0
    with pytest.raises(RasterError, match="has 3 band.* needs 7"):
        read_raster(path, expected_bands=7)
    with pytest.raises(RasterError, match="band 4 requested"):
        read_raster(path, band=4)


def test_coordinates_are_pixel_centres(tmp_path):
    path = write_plain_tif(tmp_path / "a.tif", np.ones((2, 3), "f4"))
    da = read_raster(path)
    assert float(da.x[0]) == pytest.approx(HR_TRANSFORM.c + HR_TRANSFORM.a / 2)
    assert float(da.y[0]) == pytest.approx(HR_TRANSFORM.f + HR_TRANSFORM.e / 2)


def test_not_a_raster(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("this is not an image")
    with pytest.raises(RasterError, match=r"notes\.tif: not a readable raster"):
        read_raster(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(RasterError, match="file not found"):
        read_raster(tmp_path / "absent.tif")
    with pytest.raises(RasterError, match="is a folder"):
        read_raster(tmp_path)


def test_truncated_geotiff(tmp_path):
    rng = np.random.default_rng(0)
    path = write_plain_tif(tmp_path / "full.tif", rng.random((256, 256)).astype("f4"))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(RasterError, match=r"truncated\.tif: the file is truncated or corrupt"):
        read_raster(truncated)


def test_read_window_reads_bands_and_fails_clearly(tmp_path):
    """The one windowed reader: NaN for nodata, one band or all; a truncated file or a window outside
    the raster is a RasterError naming the file."""
    from rasterio.windows import Window

    from deeplight.io.raster import read_window

    values = np.arange(64 * 64, dtype="f4").reshape(64, 64)
    values[3, 4] = -9999
    path = write_plain_tif(tmp_path / "full.tif", values, nodata=-9999)
    window = read_window(path, Window(2, 1, 5, 4), band=1)
    assert window.shape == (4, 5) and np.isnan(window[2, 2]) and window[0, 0] == values[1, 2]
    assert read_window(path).shape == (1, 64, 64)
    rng = np.random.default_rng(0)
    big = write_plain_tif(tmp_path / "big.tif", rng.random((256, 256)).astype("f4"))
    (tmp_path / "cut.tif").write_bytes(big.read_bytes()[: big.stat().st_size // 2])
    with pytest.raises(RasterError, match=r"cut\.tif: the file is truncated or corrupt"):
        read_window(tmp_path / "cut.tif")
    with pytest.raises(RasterError, match=r"full\.tif: window .* is outside the raster"):
        read_window(path, Window(60, 60, 10, 10))


def test_no_crs(tmp_path):
    path = write_plain_tif(tmp_path / "nocrs.tif", np.ones((4, 4), "f4"), crs=None)
    with pytest.raises(RasterError, match=r"nocrs\.tif: has no CRS"):
        read_raster(path)
    assert read_raster(path, require_crs=False).rio.crs is None


def test_all_nodata(tmp_path):
    path = write_plain_tif(tmp_path / "empty.tif", np.full((4, 4), -9.0, "f4"), nodata=-9.0)
    with pytest.raises(RasterError, match=r"empty\.tif: every pixel is nodata"):
        read_raster(path)
    nan_path = write_plain_tif(tmp_path / "nan.tif", np.full((4, 4), np.nan, "f4"))
    with pytest.raises(RasterError, match="every pixel is nodata"):
        read_raster(nan_path)
    assert np.isnan(read_raster(path, allow_all_nodata=True).values).all()


def test_errors_write_nothing(tmp_path):
    (tmp_path / "bad.tif").write_text("x")
    before = list_files(tmp_path)
    with pytest.raises(RasterError):
        read_raster(tmp_path / "bad.tif")
    assert list_files(tmp_path) == before


def test_raster_grid_reads_metadata(tmp_path):
    path = write_plain_tif(tmp_path / "g.tif", np.ones((2, 4, 8), "f4"), nodata=-1.0)
    grid = raster_grid(path)
    assert (grid["width"], grid["height"], grid["count"]) == (8, 4, 2)
    assert grid["transform"] == HR_TRANSFORM and grid["nodata"] == -1.0
    assert grid["crs_name"] == "EPSG:32650"
    with pytest.raises(RasterError, match="file not found"):
        raster_grid(tmp_path / "nope.tif")


@pytest.mark.parametrize(
    "dtype,nodata",
    [("float32", -9999.0), ("float32", float("nan")), ("float64", -9999.0), ("float32", 1e-3),
     ("int16", -32768), ("uint8", 0), ("float32", None), ("uint16", None)],
)
def test_read_dataset_window_equals_the_masked_read(tmp_path, dtype, nodata):
    """The fast window reader gives what a masked read filled with NaN gives, values within GDAL's
    float tolerance of the nodata value included."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from deeplight.io.raster import read_dataset_window

    rng = np.random.default_rng(0)
    floating = dtype.startswith("float")
    data = rng.normal(0, 1, (3, 40, 48)) if floating else rng.integers(0, 5, (3, 40, 48))
    data = data.astype(dtype)
    if nodata is not None and not np.isnan(nodata):
        data[:, ::7, ::5] = nodata
        if floating:
            near = np.float32(nodata)
            data[0, 1, :10] = np.nextafter(near, np.float32(0))  # 1 ulp away: nodata for GDAL too
            data[0, 2, :10] = near * (1 + 1e-6)  # several ulps away: valid
    if floating:
        data[1, 5, 5] = np.nan
    path = tmp_path / "r.tif"
    with rasterio.open(path, "w", driver="GTiff", width=48, height=40, count=3, dtype=dtype, nodata=nodata,
                       crs="EPSG:3857", transform=from_origin(0, 0, 10, 10)) as dst:
        dst.write(data)
    with rasterio.open(path) as src:
        window = Window(3, 1, 40, 30)
        expected = src.read(window=window, masked=True).astype(np.float32).filled(np.nan)
        got = read_dataset_window(src, window)
        assert got.dtype == np.float32
        assert np.array_equal(got, expected, equal_nan=True)
        assert np.array_equal(read_dataset_window(src, window, [2]), expected[1:2], equal_nan=True)
        for out_dtype, fill in ((np.float64, np.nan), (np.float32, 0.0), (np.float64, -1.0)):
            masked = src.read(window=window, masked=True).astype(out_dtype).filled(fill)
            got = read_dataset_window(src, window, dtype=out_dtype, fill=fill)
            assert got.dtype == out_dtype
            assert np.array_equal(got, masked, equal_nan=True), (out_dtype, fill)


def test_read_dataset_window_applies_an_internal_mask(tmp_path):
    """A file with a real mask band (not nodata) goes through GDAL's masked read."""
    import rasterio
    from rasterio.transform import from_origin

    from deeplight.io.raster import nodata_only_masks, read_dataset_window

    path = tmp_path / "m.tif"
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=1, dtype="float32",
                           crs="EPSG:3857", transform=from_origin(0, 0, 10, 10)) as dst:
            dst.write(np.ones((1, 16, 16), np.float32))
            mask = np.full((16, 16), 255, np.uint8)
            mask[:4] = 0
            dst.write_mask(mask)
    with rasterio.open(path) as src:
        assert not nodata_only_masks(src, [1])
        got = read_dataset_window(src)
    assert np.isnan(got[0, :4]).all() and (got[0, 4:] == 1).all()
