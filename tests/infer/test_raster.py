"""predict_raster: georeferencing, tags, aux reprojection, atomic writes, bad input, killed runs."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from rasterio.transform import from_origin
from rasterio.warp import Resampling, reproject

from deeplight.contracts import denormalize_radiance
from deeplight.errors import ConfigError, RasterError
from deeplight.infer import TileCache, predict_array, predict_raster
from deeplight.infer import raster as raster_module
from tests.infer.tiny_models import TinyConvSR

REPO = Path(__file__).resolve().parents[2]
LR_TRANSFORM = from_origin(300000, 3500000, 1000, 1000)  # UTM 50N, 1 km pixels


def write_lr(
    path: Path,
    h: int = 29,
    w: int = 35,
    *,
    crs: str | None = "EPSG:32650",
    simulated: bool = True,
    seed: int = 0,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lr = rng.uniform(0, 63, (h, w)).astype(np.float32)
    lr[:2, :3] = np.nan
    profile = dict(driver="GTiff", width=w, height=h, count=1, dtype="float32", nodata=np.nan)
    if crs is not None:
        profile.update(crs=crs, transform=LR_TRANSFORM)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(lr, 1)
        dst.update_tags(simulated="true" if simulated else "false", units="DN")
    return lr


def write_dem_wgs84(path: Path, west: float = 114.85, north: float = 31.65) -> None:
    """A DEM in EPSG:4326 (another CRS and resolution) covering the LR raster."""
    yy, xx = np.mgrid[0:50, 0:70]
    dem = (100 + 3 * xx + 2 * yy).astype(np.float32)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=70,
        height=50,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(west, north, 0.01, 0.01),
    ) as dst:
        dst.write(dem, 1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TinyConvSR().eval()


def test_output_is_georeferenced_8x_finer_and_tagged(tmp_path, model):
    lr = write_lr(tmp_path / "lr.tif")
    result = predict_raster(
        tmp_path / "lr.tif", tmp_path / "out" / "sr.tif", model=model, tile=16, overlap=12, device="cpu"
    )
    with rasterio.open(result.path) as ds:
        assert ds.shape == (29 * 8, 35 * 8)
        assert ds.crs.to_epsg() == 32650
        assert ds.transform == LR_TRANSFORM @ Affine.scale(1 / 8)
        assert ds.dtypes == ("float32",) and np.isnan(ds.nodata)
        tags = ds.tags()
        sr = ds.read(1)
        assert ds.profile["tiled"]
    assert tags["simulated"] == "true" and "simulated" in tags["provenance"]
    assert tags["units"] == "nW/cm2/sr" and tags["model"] == "TinyConvSR"
    assert json.loads(tags["inputs"])["lr"]["sha256"]
    assert np.isnan(sr[:16, :24]).all() and np.isfinite(sr[16:]).all()
    # streamed file == in-memory prediction
    expected = predict_array(model, lr, None, tile=16, overlap=12, device="cpu").radiance
    np.testing.assert_allclose(sr, expected, rtol=1e-6, equal_nan=True)
    assert result.uncertainty_path is None and result.computed == result.tiles > 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sr.tif"]  # nothing else left behind


def test_predict_raster_leaves_gdals_block_cache_as_it_found_it(tmp_path, model):
    """The cache size is the process's (``deeplight predict`` sets it once, deeplight.runtime.bound_gdal_cache):
    a run that set ``rasterio.Env(GDAL_CACHEMAX=256)`` left GDAL with a 256-byte cache afterwards."""
    from rasterio.env import get_gdal_config

    write_lr(tmp_path / "lr.tif")
    before = get_gdal_config("GDAL_CACHEMAX")
    predict_raster(tmp_path / "lr.tif", tmp_path / "sr.tif", model=model, tile=16, overlap=12, device="cpu")
    assert get_gdal_config("GDAL_CACHEMAX") == before > 2**20


def test_real_input_is_not_tagged_simulated_and_ensemble_writes_uncertainty(tmp_path, model):
    write_lr(tmp_path / "lr.tif", simulated=False)
    result = predict_raster(
        tmp_path / "lr.tif",
        tmp_path / "sr.tif",
        model=model,
        tile=16,
        overlap=12,
        device="cpu",
        self_ensemble=True,
    )
    assert result.uncertainty_path == tmp_path / "sr_uncertainty.tif"
    with rasterio.open(result.uncertainty_path) as ds:
        assert ds.tags()["modality"] == "sr_uncertainty" and ds.tags()["simulated"] == "false"
        unc = ds.read(1)
    assert np.nanmean(unc) > 0 and np.isnan(unc[:16, :24]).all()


class DemProbe(torch.nn.Module):
    """Returns the normalised DEM as the SR, to check the reprojection of the aux layer."""

    def forward(self, batch):
        return {"sr": batch["dem"] * batch["present"][:, 2, None, None, None]}


def test_aux_in_another_crs_is_reprojected_onto_the_hr_grid(tmp_path):
    write_lr(tmp_path / "lr.tif")
    write_dem_wgs84(tmp_path / "dem.tif")
    out = predict_raster(
        tmp_path / "lr.tif",
        tmp_path / "sr.tif",
        model=DemProbe(),
        aux_paths={"dem": tmp_path / "dem.tif"},
        tile=16,
        overlap=4,
        device="cpu",
        cache=None,
    ).path
    with rasterio.open(tmp_path / "dem.tif") as src:
        expected = np.full((29 * 8, 35 * 8), np.nan, np.float32)
        reproject(
            rasterio.band(src, 1),
            expected,
            dst_transform=LR_TRANSFORM @ Affine.scale(1 / 8),
            dst_crs="EPSG:32650",
            resampling=Resampling.bilinear,
            dst_nodata=np.nan,
        )
    with rasterio.open(out) as ds:
        got = ds.read(1)
    valid = np.isfinite(got) & np.isfinite(expected)
    assert valid.mean() > 0.9
    np.testing.assert_allclose(
        got[valid], denormalize_radiance(expected[valid] / 1000.0), rtol=1e-3, atol=1e-3
    )


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_lr_without_crs_is_rejected(tmp_path, model):
    write_lr(tmp_path / "lr.tif", crs=None)
    with pytest.raises(RasterError, match=r"LR raster .*lr.tif: has no CRS: assign one \(georeference it"):
        predict_raster(tmp_path / "lr.tif", tmp_path / "sr.tif", model=model, device="cpu")
    assert not (tmp_path / "sr.tif").exists()


def test_aux_that_does_not_overlap_is_rejected(tmp_path, model):
    write_lr(tmp_path / "lr.tif")
    write_dem_wgs84(tmp_path / "far.tif", west=10.0, north=50.0)
    with pytest.raises(RasterError, match=r"dem raster .*far.tif: does not overlap the LR raster"):
        predict_raster(
            tmp_path / "lr.tif",
            tmp_path / "sr.tif",
            model=model,
            aux_paths={"dem": tmp_path / "far.tif"},
            device="cpu",
        )


def test_wrong_band_count_and_missing_file(tmp_path, model):
    write_lr(tmp_path / "lr.tif")
    write_dem_wgs84(tmp_path / "dem.tif")
    with pytest.raises(RasterError, match=r"dmo raster .*dem.tif: has 1 band\(s\) but this modality needs 7"):
        predict_raster(
            tmp_path / "lr.tif", tmp_path / "sr.tif", model=model, aux_paths={"dmo": tmp_path / "dem.tif"}
        )
    with pytest.raises(RasterError, match=r"LR raster .*nope.tif: file not found"):
        predict_raster(tmp_path / "nope.tif", tmp_path / "sr.tif", model=model)


def test_unwritable_output_folder(tmp_path, model):
    write_lr(tmp_path / "lr.tif")
    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(
        RasterError, match=r"cannot write the output: .*a_file/sub/sr.tif: .*a_file is a file, not a folder"
    ):
        predict_raster(tmp_path / "lr.tif", tmp_path / "a_file" / "sub" / "sr.tif", model=model, device="cpu")


def test_input_is_never_overwritten(tmp_path, model):
    write_lr(tmp_path / "lr.tif")
    before = (tmp_path / "lr.tif").read_bytes()
    with pytest.raises(RasterError, match="would overwrite the input"):
        predict_raster(tmp_path / "lr.tif", tmp_path / "lr.tif", model=model, device="cpu")
    assert (tmp_path / "lr.tif").read_bytes() == before


def test_full_disk_leaves_nothing_behind(tmp_path, model, monkeypatch):
    write_lr(tmp_path / "lr.tif")
    (tmp_path / "out").mkdir()
    calls = {"n": 0}
    from deeplight.io import cog as cog_module

    real_write = cog_module._write_rows

    def failing_write(dst, row0, rows):
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(dst, row0, rows)

    monkeypatch.setattr(cog_module, "_write_rows", failing_write)
    with pytest.raises(
        RasterError, match=r"no space left on the device while writing .*sr.tif: free space"
    ):
        predict_raster(
            tmp_path / "lr.tif",
            tmp_path / "out" / "sr.tif",
            model=model,
            tile=16,
            overlap=4,
            device="cpu",
            self_ensemble=True,
        )
    assert list((tmp_path / "out").iterdir()) == []


def test_a_second_writer_of_the_same_output_is_refused(tmp_path, model):
    from deeplight.infer.locks import file_lock

    write_lr(tmp_path / "lr.tif")
    with file_lock(tmp_path / ".sr.tif.lock"):
        with pytest.raises(RasterError, match="another run is writing"):
            predict_raster(tmp_path / "lr.tif", tmp_path / "sr.tif", model=model, device="cpu")


def test_model_and_checkpoint_are_exclusive(tmp_path, model):
    write_lr(tmp_path / "lr.tif")
    with pytest.raises(ConfigError, match="exactly one of checkpoint="):
        predict_raster(tmp_path / "lr.tif", tmp_path / "sr.tif", device="cpu")


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys, torch
    sys.path.insert(0, {repo!r})
    from deeplight.infer import TileCache, predict_raster
    from tests.infer.tiny_models import TinyConvSR
    torch.manual_seed(0)
    torch.set_num_threads(1)
    def progress(done, total):
        if done >= 4:  # killed hard in the middle of the run, after some tiles are cached
            os.kill(os.getpid(), signal.SIGKILL)
    predict_raster({lr!r}, {out!r}, model=TinyConvSR().eval(), tile=16, overlap=12, batch_size=2,
                   device="cpu", cache=TileCache({cache!r}), progress=progress, self_ensemble=True)
""")


def test_killed_run_leaves_no_output_and_the_rerun_resumes(tmp_path, model):
    write_lr(tmp_path / "lr.tif", h=40, w=40)
    out = tmp_path / "out" / "sr.tif"
    script = KILLED_RUN.format(
        repo=str(REPO), lr=str(tmp_path / "lr.tif"), out=str(out), cache=str(tmp_path / "cache")
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not out.exists() and not (tmp_path / "out" / "sr_uncertainty.tif").exists()
    leftovers = [p.name for p in out.parent.iterdir()]
    assert leftovers and all(name.startswith(".") for name in leftovers)  # only hidden partial files
    (out.parent / ".sr.tif.cog.tmp.ovr.tmp").write_bytes(
        b"GDAL overview temp of a run killed while converting"
    )
    result = predict_raster(
        tmp_path / "lr.tif",
        out,
        model=model,
        tile=16,
        overlap=12,
        batch_size=2,
        device="cpu",
        cache=TileCache(tmp_path / "cache"),
        self_ensemble=True,
    )
    assert result.cached >= 4 and result.computed == result.tiles - result.cached > 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["sr.tif", "sr_uncertainty.tif"]
    fresh = predict_raster(
        tmp_path / "lr.tif",
        tmp_path / "fresh.tif",
        model=model,
        tile=16,
        overlap=12,
        batch_size=2,
        device="cpu",
        self_ensemble=True,
    )
    with rasterio.open(out) as a, rasterio.open(fresh.path) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_repeated_request_is_copied_from_the_cache_and_tiles_back_it_up(tmp_path, model):
    write_lr(tmp_path / "lr.tif")
    cache = TileCache(tmp_path / "cache")
    kwargs = dict(model=model, tile=16, overlap=12, device="cpu", cache=cache, self_ensemble=True)
    first = predict_raster(tmp_path / "lr.tif", tmp_path / "a.tif", **kwargs)
    second = predict_raster(tmp_path / "lr.tif", tmp_path / "b.tif", **kwargs)
    assert first.computed == first.tiles and not first.from_request_cache
    assert second.from_request_cache and second.computed == 0 and second.cached == second.tiles
    assert (tmp_path / "b_uncertainty.tif").exists()
    # a corrupt cached output is detected: the run falls back to the tile cache, still computing nothing
    for cached in (tmp_path / "cache" / "files").glob("*/*.sr.tif"):
        cached.write_bytes(cached.read_bytes()[:-100])
    third = predict_raster(tmp_path / "lr.tif", tmp_path / "c.tif", **kwargs)
    assert not third.from_request_cache and third.computed == 0
    for name in ("b.tif", "c.tif", "b_uncertainty.tif", "c_uncertainty.tif"):
        with (
            rasterio.open(tmp_path / name.replace(name[0], "a", 1)) as a,
            rasterio.open(tmp_path / name) as b,
        ):
            np.testing.assert_array_equal(a.read(1), b.read(1))
            assert a.tags() == b.tags()


def test_tiles_without_lr_data_are_counted_and_not_cached(tmp_path, model):
    """A raster that is nodata outside its country: such tiles are neither computed nor stored, the
    counts say so, and a rerun on the tile cache computes nothing."""
    lr = write_lr(tmp_path / "lr.tif", h=40, w=40)
    lr[:, 20:] = np.nan
    with rasterio.open(tmp_path / "lr.tif", "r+") as dst:
        dst.write(lr, 1)
    cache = TileCache(tmp_path / "cache")
    kwargs = dict(model=model, tile=16, overlap=4, device="cpu", cache=cache)
    first = predict_raster(tmp_path / "lr.tif", tmp_path / "a.tif", **kwargs)
    assert first.void > 0 and first.computed + first.void == first.tiles and first.cached == 0
    assert len(list((tmp_path / "cache" / "entries").glob("*/*.dlc"))) == first.computed  # tiles only
    for whole_output in (tmp_path / "cache" / "files").glob("*/*"):
        whole_output.unlink()  # so the rerun goes through the tile cache
    second = predict_raster(tmp_path / "lr.tif", tmp_path / "b.tif", **kwargs)
    assert not second.from_request_cache and second.computed == 0
    assert second.cached == first.computed and second.void == first.void
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        sr = a.read(1)
        np.testing.assert_array_equal(sr, b.read(1))
    assert np.isnan(sr[:, 160:]).all() and np.isfinite(sr[16:, :160]).all()


def test_real_viirs_raster_as_lr_in_radiance_units(shared_data, tmp_path, model):
    """A real VIIRS raster (Touggourt, EPSG:4326) fed as LR radiance, streamed to an 8x finer COG."""
    src = next((shared_data / "touggourt").glob("VNL_v2_*average_masked.tif"))
    result = predict_raster(
        src, tmp_path / "sr.tif", model=model, tile=48, overlap=12, device="cpu", lr_units="radiance"
    )
    with rasterio.open(src) as lr, rasterio.open(result.path) as sr:
        assert sr.shape == (lr.height * 8, lr.width * 8) and sr.crs == lr.crs
        assert sr.transform == lr.transform @ Affine.scale(1 / 8)
        lr_data = lr.read(1, masked=True)
        out = sr.read(1)
        assert sr.tags()["simulated"] == "false" and sr.tags()["lr_units"] == "radiance"
    lr_nodata = np.ma.getmaskarray(lr_data) | np.isnan(lr_data.filled(0))
    np.testing.assert_array_equal(np.isnan(out), np.kron(lr_nodata, np.ones((8, 8), bool)))


def test_radiance_given_as_dn_fails_before_any_work(tmp_path, model):
    with rasterio.open(
        tmp_path / "viirs.tif",
        "w",
        driver="GTiff",
        width=8,
        height=8,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(5, 6, 0.01, 0.01),
    ) as dst:
        dst.write(np.full((8, 8), 250.0, np.float32), 1)
    with pytest.raises(RasterError, match=r"viirs.tif: lr values span 250..250.*lr_units='radiance'"):
        predict_raster(tmp_path / "viirs.tif", tmp_path / "sr.tif", model=model, device="cpu")
    assert not (tmp_path / "sr.tif").exists()


class DmoProbe(torch.nn.Module):
    """Returns the last DMO band (band 7) as the SR, to check band order and warping of 7-band layers."""

    def forward(self, batch):
        return {"sr": batch["dmo"][:, 6:7] * batch["present"][:, 1, None, None, None]}


def test_seven_band_dmo_keeps_its_band_order(tmp_path):
    write_lr(tmp_path / "lr.tif", h=12, w=12)
    bands = np.stack([np.full((50, 70), 0.05 * (b + 1), np.float32) for b in range(7)])
    with rasterio.open(
        tmp_path / "dmo.tif",
        "w",
        driver="GTiff",
        width=70,
        height=50,
        count=7,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(114.85, 31.65, 0.01, 0.01),
    ) as dst:
        dst.write(bands)
    out = predict_raster(
        tmp_path / "lr.tif",
        tmp_path / "sr.tif",
        model=DmoProbe(),
        aux_paths={"dmo": tmp_path / "dmo.tif"},
        tile=8,
        overlap=4,
        device="cpu",
    )
    with rasterio.open(out.path) as ds:
        got = ds.read(1)
    valid = np.isfinite(got)
    np.testing.assert_allclose(got[valid], denormalize_radiance(np.float32(0.35)), rtol=1e-5)


def test_tiles_corrupted_after_the_cache_scan_are_recomputed(tmp_path, model):
    write_lr(tmp_path / "lr.tif")
    cache = TileCache(tmp_path / "cache")
    kwargs = dict(model=model, tile=16, overlap=12, device="cpu", cache=cache)
    first = predict_raster(tmp_path / "lr.tif", tmp_path / "a.tif", **kwargs)
    for stored in (tmp_path / "cache" / "files").glob("*/*"):
        stored.unlink()  # no whole-output copy: the tiles must be used
    for entry in (tmp_path / "cache" / "entries").glob("*/*.dlc"):
        entry.write_bytes(entry.read_bytes()[:-10])  # present on disk (the scan finds them) but corrupt
    second = predict_raster(tmp_path / "lr.tif", tmp_path / "b.tif", **kwargs)
    assert second.computed == second.tiles == first.tiles and cache.corrupt == first.tiles
    with rasterio.open(first.path) as a, rasterio.open(second.path) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


@pytest.mark.parametrize("shift", [(0, 0), (5, -3)])
def test_aux_on_the_hr_grid_is_read_directly_and_equals_the_warped_read(tmp_path, shift):
    """A layer already on the HR grid (same CRS and pixel size, a whole-pixel shift) is read without a
    warp; the pixels equal what the bilinear warp onto the HR grid gives, NaN outside the layer."""
    from rasterio.windows import Window

    from deeplight.infer.raster_source import RasterSource
    from deeplight.infer.tiling import Tile

    write_lr(tmp_path / "lr.tif", h=12, w=14)
    hr = LR_TRANSFORM * Affine.scale(1 / 8)
    col, row = shift
    transform = hr * Affine.translation(col, row)
    rng = np.random.default_rng(1)
    dem = rng.uniform(0, 500, (12 * 8 - 10, 14 * 8 - 7)).astype(np.float32)
    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", width=dem.shape[1], height=dem.shape[0],
                       count=1, dtype="float32", crs="EPSG:32650", transform=transform, nodata=np.nan) as dst:
        dst.write(dem, 1)
    tile = Tile(row=2, col=3, height=8, width=9, index=0)
    with RasterSource(tmp_path / "lr.tif", {"dem": tmp_path / "dem.tif"}) as source:
        assert "dem" in source._direct and not source._vrts  # noqa: SLF001 - the fast path was taken
        direct = source.read(tile)[2]
        ds, _ = source._direct["dem"]  # noqa: SLF001
        from rasterio.vrt import WarpedVRT

        with WarpedVRT(ds, crs=source.crs, transform=source.hr_transform, width=source.lr_width * 8,
                       height=source.lr_height * 8, resampling=Resampling.bilinear, dtype="float32",
                       nodata=np.nan) as vrt:
            warped = vrt.read(1, window=Window(3 * 8, 2 * 8, 9 * 8, 8 * 8), masked=True).filled(np.nan)
    np.testing.assert_array_equal(np.isnan(direct), np.isnan(warped))
    np.testing.assert_allclose(direct[~np.isnan(direct)], warped[~np.isnan(warped)], rtol=1e-6)


def _count_hashing(monkeypatch) -> list[str]:
    from deeplight.infer import cache as cache_module

    hashed: list[str] = []
    real = cache_module.sha256_file

    def counting(path, *args, **kwargs):
        if Path(path).name == "lr.tif":  # (the cache also hashes the outputs it stores)
            hashed.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(cache_module, "sha256_file", counting)
    return hashed


def test_inputs_are_hashed_once_per_file_version_and_a_changed_file_is_recomputed(tmp_path, model, monkeypatch):
    """The cache remembers each input's SHA-256 under its path, inode, size, mtime and ctime: a repeated
    run reads no input to hash it; a file rewritten with the same size and its old mtime put back is
    hashed again (its ctime moved) and predicted again, never served from the old content's entries."""
    from deeplight.infer import cache as cache_module

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0.0)  # the files were written a moment ago
    hashed = _count_hashing(monkeypatch)
    write_lr(tmp_path / "lr.tif", seed=0)
    cache = TileCache(tmp_path / "cache")
    kwargs = dict(model=model, tile=16, overlap=4, device="cpu", cache=cache)
    first = predict_raster(tmp_path / "lr.tif", tmp_path / "a.tif", **kwargs)
    assert hashed == ["lr.tif"]
    second = predict_raster(tmp_path / "lr.tif", tmp_path / "b.tif", **kwargs)
    assert hashed == ["lr.tif"] and second.from_request_cache  # no input read to identify it
    assert json.loads(second.tags["inputs"]) == json.loads(first.tags["inputs"])

    stat = os.stat(tmp_path / "lr.tif")
    write_lr(tmp_path / "lr.tif", seed=1)  # other pixels, the same size on disk
    assert os.stat(tmp_path / "lr.tif").st_size == stat.st_size
    os.utime(tmp_path / "lr.tif", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old mtime put back
    third = predict_raster(tmp_path / "lr.tif", tmp_path / "c.tif", **kwargs)
    assert hashed == ["lr.tif", "lr.tif"]
    assert not third.from_request_cache and third.computed == third.tiles
    with rasterio.open(first.path) as a, rasterio.open(third.path) as c:
        assert not np.allclose(a.read(1), c.read(1), equal_nan=True)
    fresh = predict_raster(tmp_path / "lr.tif", tmp_path / "d.tif", model=model, tile=16, overlap=4, device="cpu")
    with rasterio.open(third.path) as c, rasterio.open(fresh.path) as d:
        np.testing.assert_array_equal(c.read(1), d.read(1))


def test_a_file_changed_just_before_it_was_hashed_is_not_remembered(tmp_path, model, monkeypatch):
    hashed = _count_hashing(monkeypatch)
    write_lr(tmp_path / "lr.tif")  # written now: within RACY_SECONDS of the hash
    cache = TileCache(tmp_path / "cache")
    for out in ("a.tif", "b.tif"):
        predict_raster(tmp_path / "lr.tif", tmp_path / out, model=model, tile=16, overlap=4, device="cpu",
                       cache=cache)
    assert hashed == ["lr.tif", "lr.tif"]


def _hr_dem(path: Path, lr_h: int, lr_w: int, value: float = 120.0) -> np.ndarray:
    dem = np.full((8 * lr_h, 8 * lr_w), value, np.float32)
    with rasterio.open(path, "w", driver="GTiff", width=dem.shape[1], height=dem.shape[0], count=1,
                       dtype="float32", crs="EPSG:32650", transform=LR_TRANSFORM @ Affine.scale(1 / 8),
                       nodata=np.nan) as dst:
        dst.write(dem, 1)
    return dem


def test_a_large_aux_layer_is_sampled_up_front_and_every_value_read_is_checked(tmp_path, model, monkeypatch):
    """An auxiliary layer above AUX_SCAN_VALUES is checked on a sample of its rows before any work (wrong
    units are refused there) and value by value as the tiles read it: an infinite pixel outside the
    sample stops the run at its tile, naming the file, and no output is written."""
    from deeplight.infer import raster_source

    monkeypatch.setattr(raster_source, "AUX_SCAN_VALUES", 1)  # the first block of 512 HR rows only
    write_lr(tmp_path / "lr.tif", h=72, w=16)
    dem = _hr_dem(tmp_path / "dem.tif", 72, 16)
    kwargs = dict(model=model, aux_paths={"dem": tmp_path / "dem.tif"}, tile=32, overlap=8, device="cpu")
    result = predict_raster(tmp_path / "lr.tif", tmp_path / "ok.tif", **kwargs)
    assert result.computed == result.tiles
    assert {"prepare", "read", "model", "blend", "write", "cog"} <= set(result.seconds)  # the stage timers

    dem[540, 7] = np.inf  # HR row 540: beyond the sampled rows 0..511
    with rasterio.open(tmp_path / "dem.tif", "r+") as dst:
        dst.write(dem, 1)
    with pytest.raises(RasterError, match=r"dem\.tif: 1 dem value\(s\) are infinite"):
        predict_raster(tmp_path / "lr.tif", tmp_path / "bad" / "sr.tif", **kwargs)
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())  # no output, no partial

    _hr_dem(tmp_path / "dem.tif", 72, 16, value=25000.0)  # wrong units: the sample refuses it before any tile
    reads = []
    real_read = raster_source.RasterSource.read
    monkeypatch.setattr(raster_source.RasterSource, "read", lambda self, t: reads.append(t) or real_read(self, t))
    with pytest.raises(RasterError, match=r"dem\.tif: dem values span 2\.5e\+04\.\.2\.5e\+04, outside"):
        predict_raster(tmp_path / "lr.tif", tmp_path / "units.tif", **kwargs)
    assert reads == [] and not (tmp_path / "units.tif").exists()


def test_an_aux_layer_whose_sample_is_all_nodata_is_scanned_in_full(tmp_path, model, monkeypatch):
    """Nodata in every sampled row does not refuse a layer that has data elsewhere under the LR."""
    from deeplight.infer import raster_source

    monkeypatch.setattr(raster_source, "AUX_SCAN_VALUES", 1)
    write_lr(tmp_path / "lr.tif", h=72, w=16)
    dem = _hr_dem(tmp_path / "dem.tif", 72, 16)
    dem[:512] = np.nan  # the sampled block of rows holds no data
    with rasterio.open(tmp_path / "dem.tif", "r+") as dst:
        dst.write(dem, 1)
    result = predict_raster(tmp_path / "lr.tif", tmp_path / "sr.tif", model=model,
                            aux_paths={"dem": tmp_path / "dem.tif"}, tile=32, overlap=8, device="cpu")
    assert result.computed == result.tiles
