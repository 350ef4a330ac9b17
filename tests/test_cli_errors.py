"""The command line answers every failure with one ``deeplight: error: ...`` line and exit status 2.

Operating-system errors (read-only, full or missing output folders), MemoryError, a bad CRS string,
raster-library and YAML errors, non-finite numbers and wrong types are mapped to a message that names
the file or field and what to do; ``--debug`` adds the traceback. Outputs never replace inputs.
Most cases run ``main(argv)`` in process; a few real ones run the console script in a subprocess.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from deeplight.cli import main

UTM50 = "EPSG:32650"
HR_TRANSFORM = Affine(130.0, 0.0, 500_000.0, 0.0, -130.0, 3_500_000.0)


def _hr(path: Path, size: int = 64, seed: int = 0) -> Path:
    values = np.random.default_rng(seed).gamma(1.0, 20.0, (size, size)).astype("f4")
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32",
                       crs=UTM50, transform=HR_TRANSFORM) as dst:
        dst.write(values, 1)
    return path


def _regions(path: Path, *, crs: str | None = UTM50) -> Path:
    import geopandas as gpd
    from shapely.geometry import box

    frame = gpd.GeoDataFrame({"name": ["A"]}, geometry=[box(500_000, 3_491_680, 508_320, 3_500_000)], crs=UTM50)
    frame.to_file(path)
    if crs is None:
        path.with_suffix(".prj").unlink()  # a shapefile without a CRS: needs --regions-crs
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run(argv: list[str], capsys) -> tuple[int, str]:
    status = main(argv)
    err = capsys.readouterr().err
    return status, err


def _assert_clear(status: int, err: str, *needles: str) -> None:
    assert status == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("deeplight: error: ")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# -- outputs never replace inputs (checkpoints and sidecars included) ---------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    import torch

    from deeplight.models.checkpoint import save_checkpoint
    from deeplight.models.registry import get_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    return save_checkpoint(get_model("bicubic"), folder / "m", {"model": "bicubic", "model_kwargs": {}, "step": 0})


@pytest.mark.parametrize("target", ["weights", "sidecar"])
def test_predict_out_onto_the_checkpoint_is_refused(tmp_path, capsys, checkpoint, target):
    from tests.infer.test_raster import write_lr

    write_lr(tmp_path / "lr.tif", h=8, w=8)
    before = _digest(checkpoint.parent)
    out = checkpoint if target == "weights" else checkpoint.with_suffix(".json")
    status, err = _run(["predict", str(tmp_path / "lr.tif"), "--checkpoint", str(checkpoint), "--out", str(out),
                        "--device", "cpu", "--quiet", "--no-cache"], capsys)
    _assert_clear(status, err, "--out", "--checkpoint", str(out), "is one of the inputs")
    assert _digest(checkpoint.parent) == before


def test_predict_uncertainty_onto_an_input_is_refused(tmp_path, capsys):
    from tests.infer.test_raster import write_lr

    write_lr(tmp_path / "lr.tif", h=8, w=8)
    write_lr(tmp_path / "sr_uncertainty.tif", h=8, w=8)
    before = _digest(tmp_path)
    status, err = _run(["predict", str(tmp_path / "lr.tif"), "--model", "bicubic", "--self-ensemble",
                        "--dem", str(tmp_path / "sr_uncertainty.tif"), "--out", str(tmp_path / "sr.tif"),
                        "--device", "cpu", "--quiet", "--no-cache"], capsys)
    _assert_clear(status, err, "uncertainty", "--dem")
    assert _digest(tmp_path) == before


def test_sdg_geo_onto_the_csv_sidecar_is_refused_before_anything_is_written(tmp_path, capsys):
    _hr(tmp_path / "hr.tif")
    _regions(tmp_path / "r.geojson")
    before = _digest(tmp_path)
    status, err = _run(["sdg", "--raster", str(tmp_path / "hr.tif"), "--regions", str(tmp_path / "r.geojson"),
                        "--out", str(tmp_path / "x.csv"), "--geo", str(tmp_path / "x.json")], capsys)
    _assert_clear(status, err, "--out", "--geo", "x.json")
    assert _digest(tmp_path) == before


def test_sdg_out_onto_a_shapefile_part_is_refused(tmp_path, capsys):
    _hr(tmp_path / "hr.tif")
    _regions(tmp_path / "r.shp")
    before = _digest(tmp_path)
    status, err = _run(["sdg", "--raster", str(tmp_path / "hr.tif"), "--regions", str(tmp_path / "r.shp"),
                        "--out", str(tmp_path / "x.csv"), "--geo", str(tmp_path / "r.dbf")], capsys)
    _assert_clear(status, err, "--geo", "the .dbf part of --regions")
    assert _digest(tmp_path) == before


@pytest.mark.parametrize(
    ("out", "dem", "needles"),
    [("hr.tif", None, ["--out", "--hr"]),  # the LR onto the HR
     ("out/hr.tif", "dem.tif", ["--out", "hr.tif beside --out"]),  # the LR onto the HR copy it writes
     ("out/lr.tif", "out/dem.tif", ["dem.tif beside --out", "--dem"])],  # the DEM copy onto the DEM input
)
def test_degrade_outputs_that_collide_are_refused(tmp_path, capsys, out, dem, needles):
    (tmp_path / "out").mkdir()
    _hr(tmp_path / "hr.tif")
    extra = []
    if dem is not None:
        extra = ["--dem", str(_hr(tmp_path / dem, seed=1))]
    before = _digest(tmp_path)
    status, err = _run(["data", "degrade", "--hr", str(tmp_path / "hr.tif"), "--out", str(tmp_path / out), *extra],
                       capsys)
    _assert_clear(status, err, *needles)
    assert _digest(tmp_path) == before


# -- library and OS errors from real inputs ---------------------------------------------------------------
def test_a_bad_crs_string_names_the_option(tmp_path, capsys):
    _hr(tmp_path / "hr.tif")
    _regions(tmp_path / "r.shp", crs=None)
    status, err = _run(["sdg", "--raster", str(tmp_path / "hr.tif"), "--regions", str(tmp_path / "r.shp"),
                        "--regions-crs", "NOTACRS", "--out", str(tmp_path / "x.csv")], capsys)
    _assert_clear(status, err, "invalid CRS", "--regions-crs 'NOTACRS'", "EPSG:4326")
    assert not (tmp_path / "x.csv").exists()


def test_a_truncated_lr_in_predict_names_the_file(tmp_path, capsys):
    from deeplight.io import write_cog

    values = np.random.default_rng(0).uniform(0, 63, (300, 300)).astype("f4")
    full = write_cog(values, tmp_path / "full.tif", crs=UTM50, transform=HR_TRANSFORM,
                     tags={"units": "DN", "modality": "lr", "simulated": "true", "provenance": "test"})
    data = full.read_bytes()
    (tmp_path / "lr.tif").write_bytes(data[: len(data) * 2 // 3])
    status, err = _run(["predict", str(tmp_path / "lr.tif"), "--model", "bicubic", "--out", str(tmp_path / "sr.tif"),
                        "--device", "cpu", "--quiet", "--no-cache"], capsys)
    _assert_clear(status, err, "lr.tif")
    assert not (tmp_path / "sr.tif").exists()


def test_memory_error_on_a_huge_sparse_raster_names_the_file(tmp_path, capsys):
    path = tmp_path / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=200_000, height=200_000, count=1, dtype="float32",
                       crs=UTM50, transform=HR_TRANSFORM, tiled=True, sparse_ok=True, compress="deflate"):
        pass
    status, err = _run(["data", "info", str(path)], capsys)
    _assert_clear(status, err, "huge.tif")


def test_a_non_finite_learning_rate_ends_with_a_message(tmp_path, capsys):
    assert main(["data", "synth", "--out", str(tmp_path / "synth"), "--n-train", "4", "--n-val", "2",
                 "--n-test", "1", "--lr-size", "8", "--quiet"]) == 0
    config = tmp_path / "inf.yaml"
    config.write_text(
        f"model:\n  name: srcnn\ndata:\n  root: {tmp_path / 'synth'}\n  batch_size: 2\n  num_workers: 0\n"
        f"optim:\n  lr: .inf\ntrain:\n  steps: 2\n  val_every: 1\n  out_dir: {tmp_path / 'run'}\n"
        "  device: cpu\n  threads: 1\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    status, err = _run(["train", "--config", str(config), "--no-progress"], capsys)
    _assert_clear(status, err, "optim.lr")


def test_invalid_yaml_names_the_config(tmp_path, capsys):
    config = tmp_path / "broken.yaml"
    config.write_text("model: [\n", encoding="utf-8")
    status, err = _run(["train", "--config", str(config)], capsys)
    _assert_clear(status, err, "broken.yaml", "YAML")


@contextlib.contextmanager
def _mounted_tmpfs(folder: Path, options: str):
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("needs Linux with mount(8)")
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({done.stderr.strip() or done.returncode}); "
                    "the injected errors below cover the same mapping")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_read_only_output_folder_exits_2(tmp_path):
    """Real read-only file system (root ignores permission bits, so a mode-555 folder would not do)."""
    _hr(tmp_path / "hr.tif")
    _regions(tmp_path / "r.geojson")
    with _mounted_tmpfs(tmp_path / "ro", "ro,size=64k") as folder:
        for argv in (
            ["data", "degrade", "--hr", str(tmp_path / "hr.tif"), "--out", str(folder / "lr.tif")],
            ["sdg", "--raster", str(tmp_path / "hr.tif"), "--regions", str(tmp_path / "r.geojson"),
             "--out", str(folder / "x.csv")],
        ):
            done = subprocess.run(
                [sys.executable, "-c", "from deeplight.cli import main; raise SystemExit(main())", *argv],
                check=False, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
            )
            _assert_clear(done.returncode, done.stderr, str(folder))
            assert list(folder.iterdir()) == []


# -- the mapping of every error kind, injected into a command ------------------------------------------------
def _raise(exc: BaseException):
    def command(args):
        raise exc

    return command


def _cpl_error():
    try:
        from rasterio._err import CPLE_AppDefinedError
    except ImportError:  # pragma: no cover
        pytest.skip("rasterio without CPLE errors")
    return CPLE_AppDefinedError(1, 1, "TIFFAppendToStrip:Seek error at scanline 0")


def _yaml_error():
    import yaml

    try:
        yaml.safe_load("a: [\n")
    except yaml.YAMLError as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (lambda: OSError(errno.ENOSPC, "No space left on device", "/data/out/lr.tif"),
         ["no space left on the device while writing /data/out/lr.tif", "choose another --out"]),
        (lambda: OSError(errno.EROFS, "Read-only file system", "/ro/lr.tif"), ["read-only", "/ro/lr.tif"]),
        (lambda: PermissionError(errno.EACCES, "Permission denied", "/root/x.tif"), ["permission denied", "/root/x.tif"]),
        (lambda: FileNotFoundError(errno.ENOENT, "No such file or directory", "/nope/hr.tif"),
         ["no such file or directory", "/nope/hr.tif"]),
        (lambda: IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp"), ["/tmp is a folder"]),
        (lambda: OSError(errno.EIO, "Input/output error", "/mnt/x.tif"), ["Input/output error", "/mnt/x.tif"]),
        (lambda: OSError(errno.ENOSPC, "No space left on device"), ["no space left", "(--out lr.tif)"]),
        (MemoryError, ["not enough memory", "hr.tif"]),
        (lambda: TypeError("unsupported operand type(s) for *: 'NoneType' and 'float'"),
         ["wrong type", "NoneType", "--debug"]),
        (lambda: FloatingPointError("loss became nan at step 3"), ["loss became nan", "non-finite"]),
        (lambda: OverflowError("cannot convert float infinity to integer"), ["infinity", "non-finite"]),
        (_yaml_error, ["not valid YAML"]),
        (_cpl_error, ["could not be read or written", "TIFFAppendToStrip", "hr.tif"]),
        (lambda: __import__("rasterio").errors.RasterioIOError("hr.tif: not recognized as a supported file format"),
         ["hr.tif: not recognized"]),
        (lambda: __import__("pyproj").exceptions.CRSError("Invalid projection: NOTACRS"), ["invalid CRS", "NOTACRS"]),
        (lambda: RuntimeError("something unforeseen"), ["unexpected RuntimeError", "bug", "--debug"]),
    ],
)
def test_each_error_kind_is_one_clear_line_and_exit_2(tmp_path, monkeypatch, capsys, make, needles):
    import deeplight.data.cli as data_cli

    _hr(tmp_path / "hr.tif")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data_cli, "_cmd_degrade", _raise(make()))
    status, err = _run(["data", "degrade", "--hr", "hr.tif", "--out", "lr.tif"], capsys)
    _assert_clear(status, err, *needles)


def test_debug_prints_the_traceback_and_the_same_message(tmp_path, monkeypatch, capsys):
    import deeplight.data.cli as data_cli

    monkeypatch.setattr(data_cli, "_cmd_degrade", _raise(OSError(errno.ENOSPC, "No space left on device", "/x.tif")))
    argv = ["data", "degrade", "--hr", "a.tif", "--out", "b.tif"]
    assert main(["--debug", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "OSError" in err
    assert err.strip().splitlines()[-1].startswith("deeplight: error: no space left on the device while writing /x.tif")
    monkeypatch.setenv("DEEPLIGHT_DEBUG", "1")
    assert main(argv) == 2 and "Traceback" in capsys.readouterr().err


def test_keyboard_interrupt_exits_130_without_traceback(monkeypatch, capsys):
    import deeplight.data.cli as data_cli

    monkeypatch.setattr(data_cli, "_cmd_degrade", _raise(KeyboardInterrupt()))
    assert main(["data", "degrade", "--hr", "a.tif", "--out", "b.tif"]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def test_the_console_script_prints_no_traceback(tmp_path):
    """The installed entry point, in a subprocess: a missing input and a bad CRS."""
    _hr(tmp_path / "hr.tif")
    _regions(tmp_path / "r.shp", crs=None)
    for argv, needle in (
        (["data", "degrade", "--hr", str(tmp_path / "missing.tif"), "--out", str(tmp_path / "lr.tif")], "missing.tif"),
        (["sdg", "--raster", str(tmp_path / "hr.tif"), "--regions", str(tmp_path / "r.shp"), "--regions-crs",
          "NOTACRS", "--out", str(tmp_path / "x.csv")], "--regions-crs"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", "from deeplight.cli import main; raise SystemExit(main())", *argv],
            check=False, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
        )
        _assert_clear(done.returncode, done.stderr, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hr.tif", "r.cpg", "r.dbf", "r.shp", "r.shx"]
