"""The shared validator and the size limits (issue 11 items 2, 7, 9, 12): one set of rules for every reader."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from deeplight.cli import main
from deeplight.errors import ConfigError, RasterError, RegionError
from deeplight.io import read_raster
from deeplight.io.limits import TooLargeError, check_pixel_count, extract_zip_safely
from deeplight.io.validation import check_values, inspect_raster
from tests.io.rasters import HR_TRANSFORM, LR_TRANSFORM, UTM50, write_plain_tif


def _cube(path: Path, steps: int = 3, dn: bool = False) -> Path:
    import xarray as xr

    lat = np.linspace(31.5, 31.0, 8)
    lon = np.linspace(121.0, 121.5, 8)
    values = np.stack([np.full((8, 8), 10.0 * (t + 1), "f4") for t in range(steps)])
    if dn:
        values = np.clip(values, 0, 60)
    ds = xr.Dataset({"ntl": (("time", "lat", "lon"), values)},
                    coords={"time": np.arange(2018, 2018 + steps), "lat": lat, "lon": lon})
    ds.to_netcdf(path)
    return path


# -- limits -------------------------------------------------------------------------------------
def test_pixel_limits_come_from_the_environment(monkeypatch):
    check_pixel_count("a raster x.tif", 1000, 1000)
    monkeypatch.setenv("DEEPLIGHT_MAX_PIXELS", "1e5")
    with pytest.raises(TooLargeError, match=r"x\.tif declares 1000 x 1000 pixels \(1\.0 million .*DEEPLIGHT_MAX_PIXELS"):
        check_pixel_count("a raster x.tif", 1000, 1000)
    monkeypatch.setenv("DEEPLIGHT_MAX_PIXELS", "many")
    with pytest.raises(ConfigError, match="DEEPLIGHT_MAX_PIXELS='many' is not a number"):
        check_pixel_count("a raster x.tif", 10, 10)
    monkeypatch.setenv("DEEPLIGHT_MAX_STREAM_PIXELS", "0")
    with pytest.raises(ConfigError, match="must be a positive"):
        check_pixel_count("x", 1, 1, mode="stream")


def test_a_huge_sparse_raster_is_refused_before_any_pixel_is_read(tmp_path):
    import rasterio

    path = tmp_path / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=16000, height=16000, count=1, dtype="float32", crs=UTM50,
                       transform=HR_TRANSFORM, tiled=True, sparse_ok=True, compress="deflate"):
        pass
    assert path.stat().st_size < 2_000_000  # a small file that declares 1 GB of float32
    with pytest.raises(TooLargeError, match=r"huge\.tif declares 16000 x 16000 pixels .*about 976\.6 MB"):
        read_raster(path)


def test_a_zip_is_extracted_within_the_limit_and_flat(tmp_path, monkeypatch):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("../../escape.geojson", "{}")
        zf.writestr("__MACOSX/._junk", "x")
        zf.writestr("big.txt", " " * 300_000)
    files = extract_zip_safely(archive, tmp_path / "out")
    assert sorted(p.name for p in files) == ["big.txt", "escape.geojson"]
    assert not (tmp_path.parent / "escape.geojson").exists()
    monkeypatch.setenv("DEEPLIGHT_MAX_VECTOR_MB", "0.1")
    with pytest.raises(RegionError, match=r"a\.zip expands to 293\.0 kB .*over the limit of 102\.4 kB"):
        extract_zip_safely(archive, tmp_path / "out2")
    assert not (tmp_path / "out2").exists() or not any((tmp_path / "out2").iterdir())


# -- values ----------------------------------------------------------------------------------------
def test_radiance_noise_is_clipped_with_a_warning_and_real_negatives_refused():
    values = np.array([[5.0, -0.4, 3.0], [-1.9, np.nan, 2.0]], "f4")
    clipped, notes = check_values(values, "hr", "HR raster x.tif")
    assert clipped[0, 1] == 0 and clipped[1, 0] == 0 and np.isnan(clipped[1, 1]) and values[0, 1] < 0
    assert clipped[0, 0] == 5.0
    assert notes == ["HR raster x.tif: 2 pixel(s) have small negative radiance (down to -1.9 nW/cm2/sr, background "
                     "noise of the composite): clipped to 0"]
    with pytest.raises(RasterError, match=r"x\.tif: 1 pixel\(s\) have negative radiance below -2"):
        check_values(np.array([1.0, -2.5], "f4"), "hr", "HR raster x.tif")
    with pytest.raises(RasterError, match=r"x\.tif: 3 of its 4 valid pixels have negative radiance"):
        check_values(np.array([1.0, -0.5, -0.5, -0.5], "f4"), "hr", "HR raster x.tif")  # not noise: an offset
    with pytest.raises(RasterError, match=r"1 pixel\(s\) are infinite .*row 0, column 1"):
        check_values(np.array([[1.0, np.inf]], "f4"), "dem", "DEM raster d.tif")
    with pytest.raises(RasterError, match=r"1 pixel\(s\) are infinite .*row 0, column 1"):  # a 1-D array too
        check_values(np.array([1.0, np.inf], "f4"), "dem", "DEM raster d.tif")
    with pytest.raises(RasterError, match="every pixel is nodata"):
        check_values(np.full((2, 2), np.nan, "f4"), "any", "x")


def test_degrade_clips_viirs_noise_and_says_so(tmp_path, capsys):
    values = np.random.default_rng(0).gamma(1.0, 8.0, (64, 64)).astype("f4")
    values[0, :5] = -0.3
    write_plain_tif(tmp_path / "hr.tif", values)
    assert main(["data", "degrade", "--hr", str(tmp_path / "hr.tif"), "--out", str(tmp_path / "lr.tif")]) == 0
    err = capsys.readouterr().err
    assert "deeplight: warning: HR raster" in err and "5 pixel(s) have small negative radiance" in err
    assert "Traceback" not in err and "UserWarning" not in err


def test_a_complex_raster_is_refused_not_truncated(tmp_path):
    values = (np.ones((4, 4)) * (1 + 2j)).astype("complex64")
    write_plain_tif(tmp_path / "c.tif", values, dtype="complex64")
    with pytest.raises(RasterError, match=r"c\.tif: holds complex-valued pixels \(complex64\)"):
        inspect_raster(tmp_path / "c.tif")


# -- NetCDF: one reader for info, predict and sdg ---------------------------------------------------
def test_netcdf_lat_lon_is_epsg4326_for_every_reader(tmp_path, capsys):
    cube = _cube(tmp_path / "one.nc", steps=1, dn=True)
    assert main(["data", "info", str(cube)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["crs"] == "EPSG:4326" and out["variable"] == "ntl" and "CF lat/lon" in out["crs_note"]
    da = read_raster(cube)
    assert da.rio.crs.to_epsg() == 4326 and da.shape == (8, 8)
    assert main(["predict", str(cube), "--model", "bicubic", "--out", str(tmp_path / "sr.tif"), "--device", "cpu",
                 "--quiet", "--no-cache"]) == 0


def test_sdg_reads_the_chosen_time_step_of_a_cube(tmp_path, capsys):
    from deeplight.io.georaster import read_georaster

    cube = _cube(tmp_path / "cube.nc", steps=3)
    with pytest.raises(RasterError, match=r"cube\.nc: is a NetCDF cube with 3 time steps \(time = 2018 \.\. 2020\)"):
        read_georaster(cube, name="HR raster")
    assert float(np.nanmean(read_georaster(cube, name="HR raster", time="2019").values)) == pytest.approx(20.0)
    assert float(np.nanmean(read_georaster(cube, name="HR raster", band=3).values)) == pytest.approx(30.0)
    status = main(["sdg", "--raster", str(cube), "--time", "2020", "--regions", "bbox:121.1,31.1,121.4,31.4",
                   "--out", str(tmp_path / "x.csv"), "--urban-method", "fixed"])
    assert status == 0, capsys.readouterr().err
    table = __import__("pandas").read_csv(tmp_path / "x.csv", comment="#")
    mean = table.loc[table["indicator"] == "mean_radiance", "value"].iloc[0]
    assert mean == pytest.approx(30.0, rel=1e-3)


# -- sdg outputs are validated before anything is written, and written together ----------------------
def test_sdg_writes_nothing_when_one_output_fails(tmp_path, monkeypatch, capsys):
    import geopandas as gpd
    from shapely.geometry import box

    from deeplight.sdg import export

    values = np.random.default_rng(0).gamma(1.0, 8.0, (64, 64)).astype("f4")
    write_plain_tif(tmp_path / "hr.tif", values)
    gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(500_100, 3_491_800, 508_200, 3_499_900)],
                     crs=UTM50).to_file(tmp_path / "r.geojson")
    before = sorted(p.name for p in tmp_path.iterdir())

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "x.gpkg"))

    monkeypatch.setattr(export, "indicators_to_geopackage_bytes", full_disk)
    status = main(["sdg", "--raster", str(tmp_path / "hr.tif"), "--regions", str(tmp_path / "r.geojson"),
                   "--out", str(tmp_path / "x.csv"), "--geo", str(tmp_path / "x.gpkg")])
    assert status == 2 and "no space left" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # neither the CSV nor its JSON sidecar


# -- DEEPLIGHT_DATA_DIR ------------------------------------------------------------------------------
def test_a_wrong_data_dir_is_reported_with_what_it_expects(tmp_path, monkeypatch, capsys):
    from deeplight.utils_io import data_dir_problem

    assert data_dir_problem({}) is None
    assert "does not exist" in data_dir_problem({"DEEPLIGHT_DATA_DIR": str(tmp_path / "nope")})
    (tmp_path / "empty").mkdir()
    problem = data_dir_problem({"DEEPLIGHT_DATA_DIR": str(tmp_path / "empty")})
    assert "holds none of the expected folders" in problem and "shanghai" in problem and "../shared/data" in problem
    (tmp_path / "empty" / "shanghai").mkdir()
    assert data_dir_problem({"DEEPLIGHT_DATA_DIR": str(tmp_path / "empty")}) is None
    monkeypatch.setenv("DEEPLIGHT_DATA_DIR", str(tmp_path / "nope"))
    assert main(["models", "--format", "csv"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("deeplight: warning: DEEPLIGHT_DATA_DIR=") and "does not exist" in err


def test_lr_tiles_see_no_infinite_value_even_in_memory():
    from deeplight.infer.sources import ArraySource

    lr = np.full((8, 8), 10.0, "f4")
    lr[3, 3] = np.inf
    with pytest.raises(RasterError, match="infinite"):
        ArraySource(lr).check_values()


def test_inspect_names_the_band_count_of_an_rgb_image(tmp_path):
    write_plain_tif(tmp_path / "rgb.tif", np.ones((3, 8, 8), "f4"), transform=LR_TRANSFORM)
    with pytest.raises(RasterError, match=r"rgb\.tif: has 3 bands but a single-band raster is expected.*RGB"):
        inspect_raster(tmp_path / "rgb.tif", single_band=True)
    assert inspect_raster(tmp_path / "rgb.tif", band=2).bands == [2]


def test_value_stats_equal_a_count_over_the_valid_values():
    """The block statistics (reductions that skip NaN, no copy of the valid values) equal counting the
    finite values directly, with nodata, infinite, out-of-range and noise pixels in the block."""
    from deeplight.io.validation import new_stats

    rng = np.random.default_rng(4)
    block = rng.normal(3.0, 4.0, (3, 40, 50)).astype("f4")
    block[0, :7] = np.nan
    block[1, 5, 9], block[2, 30, 1] = np.inf, -np.inf
    for role in ("radiance", "dem", "dmo"):
        stats = new_stats(role)
        stats.add(block[:, :20], row0=0)
        stats.add(block[:, 20:], row0=20)
        finite = block[np.isfinite(block)]
        low, high = stats.low, stats.high
        assert (stats.total, stats.valid, stats.infinite) == (block.size, finite.size, 2)
        assert stats.first_infinite == (5, 9)
        assert stats.vmin == pytest.approx(float(finite.min())) and stats.vmax == pytest.approx(float(finite.max()))
        assert stats.vsum == pytest.approx(float(finite.sum(dtype=np.float64)), rel=1e-9)
        assert stats.below == (int((finite < low).sum()) if low is not None else 0)
        assert stats.above == (int((finite > high).sum()) if high is not None else 0)
        if stats.radiance:
            assert stats.noise == int(((finite < -1e-3) & (finite >= low)).sum()) > 0


def test_a_sampled_scan_reads_evenly_spaced_rows_and_says_so(tmp_path):
    """With ``max_values`` a large raster is read on evenly spaced blocks of rows (the first and last
    among them): values found there are judged as in a full scan."""
    from deeplight.io.validation import judge, scan_raster

    dem = np.full((64, 16), 120.0, "f4")
    dem[60, 3] = 20000.0  # in the last block of rows: the sample sees it
    dem[20, 5] = np.inf  # in an unsampled block: only the full scan sees it
    path = write_plain_tif(tmp_path / "dem.tif", dem, transform=HR_TRANSFORM)
    header = inspect_raster(path, role="dem", label="dem raster dem.tif")
    reads = []

    class Counting:
        def __init__(self, ds):
            self.ds = ds

        def read(self, indexes, window, masked):
            reads.append(int(window.row_off))
            return self.ds.read(indexes, window=window, masked=masked)

    with header.open() as ds:
        full = scan_raster(Counting(ds), header, "dem", rows_per_read=8)
        assert reads == list(range(0, 64, 8)) and "sampled" not in full.extra and full.infinite == 1
        reads.clear()
        sampled = scan_raster(Counting(ds), header, "dem", rows_per_read=8, max_values=3 * 16 * 8)
    assert reads == [0, 32, 56] and sampled.extra["sampled"] == (24, 64)
    assert sampled.valid == 24 * 16 and sampled.infinite == 0 and sampled.above == 1
    with pytest.raises(RasterError, match=r"dem\.tif: dem values span 120\.\.2e\+04.*metres"):
        judge(sampled, "dem", header.label)
