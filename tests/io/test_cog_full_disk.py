"""A full disk never leaves a raster under the final name, and says so clearly.

Injected faults (an ENOSPC raised by the write, a write that silently stores nothing, a file
truncated after writing) and, where this machine lets root mount one, a real 64 KiB tmpfs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deeplight.errors import RasterError
from deeplight.io import cog, write_cog
from tests.io.rasters import HR_TRANSFORM, UTM50, list_files, tags, write_plain_tif

NO_SPACE = r"no space left on the device while writing .*out\.tif: free space or choose another --out"


def _write(path: Path, values: np.ndarray | None = None) -> Path:
    if values is None:
        values = np.random.default_rng(0).random((64, 64)).astype("f4")
    return write_cog(values, path, crs=UTM50, transform=HR_TRANSFORM, tags=tags())


def test_enospc_from_the_write_is_reported_and_leaves_the_old_file(tmp_path, monkeypatch):
    target = _write(tmp_path / "out.tif", np.zeros((64, 64), "f4"))
    old = target.read_bytes()

    def full(dst, row0, rows):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cog, "_write_rows", full)
    with pytest.raises(RasterError, match=NO_SPACE):
        _write(target)
    assert list_files(tmp_path) == ["out.tif"] and target.read_bytes() == old


def test_a_write_that_silently_stores_nothing_is_caught_before_the_rename(tmp_path, monkeypatch):
    monkeypatch.setattr(cog, "_write_rows", lambda dst, row0, rows: None)  # GDAL lost the blocks, said nothing
    with pytest.raises(RasterError, match=r"writing .*out\.tif failed: the file written had different pixel"):
        _write(tmp_path / "out.tif")
    assert list_files(tmp_path) == []


def test_a_truncated_file_on_a_nearly_full_disk_is_reported_as_no_space(tmp_path, monkeypatch):
    def truncate(path):
        with open(path, "r+b") as fh:
            fh.truncate(4096)  # what the full disk of the issue left: a 4096-byte lr.tif

    monkeypatch.setattr(cog, "fsync_file", truncate)
    monkeypatch.setattr(cog, "free_bytes", lambda folder: 1000)
    with pytest.raises(RasterError, match=NO_SPACE):
        _write(tmp_path / "out.tif")
    assert list_files(tmp_path) == []


def test_the_verification_reads_back_every_band_and_block(tmp_path):
    values = np.random.default_rng(1).random((3, 600, 520)).astype("f4")
    values[1, :7, :9] = np.nan
    path = _write(tmp_path / "out.tif", values)
    cog.verify_written(path, path, values)  # what was written reads back
    changed = values.copy()
    changed[2, 599, 519] += 1
    with pytest.raises(RasterError, match=r"different pixel values in band 3"):
        cog.verify_written(path, path, changed)
    with pytest.raises(RasterError, match=r"3x600x520 instead of 3x600x521"):
        cog.verify_written(path, path, np.zeros((3, 600, 521), "f4"))


@contextlib.contextmanager
def _small_tmpfs(folder: Path, size: str):
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("tmpfs test needs Linux with mount(8)")
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({done.stderr.strip() or done.returncode}); "
                    "the injected-ENOSPC tests cover the same path")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_real_full_tmpfs(tmp_path):
    values = np.random.default_rng(2).random((512, 512)).astype("f4")  # ~1 MiB, incompressible
    with _small_tmpfs(tmp_path / "small", "64k") as folder:
        with pytest.raises(RasterError, match=NO_SPACE):
            _write(folder / "out.tif", values)
        assert list_files(folder) == []  # neither the final name nor a temporary file


def test_degrade_on_a_full_tmpfs_exits_2_with_a_clear_message(tmp_path):
    hr = np.random.default_rng(3).gamma(1.0, 20.0, (1024, 1024)).astype("f4")
    write_plain_tif(tmp_path / "hr.tif", hr)
    with _small_tmpfs(tmp_path / "small", "4k") as folder:
        done = subprocess.run(
            [sys.executable, "-c", "from deeplight.cli import main; raise SystemExit(main())", "data", "degrade",
             "--hr", str(tmp_path / "hr.tif"), "--out", str(folder / "lr.tif")],
            check=False, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "deeplight: error: no space left on the device while writing" in done.stderr
        assert f"{folder / 'lr.tif'}" in done.stderr and "choose another --out" in done.stderr
        assert list_files(folder) == []
    assert (tmp_path / "hr.tif").exists()


# -- the streaming writer of `deeplight predict` (deeplight/infer/raster.py) verifies its COGs too ----------
def _predict(tmp_path: Path, out: Path, **kwargs):
    import torch

    from deeplight.infer import predict_raster
    from tests.infer.test_raster import write_lr
    from tests.infer.tiny_models import TinyConvSR

    if not (tmp_path / "lr.tif").exists():
        write_lr(tmp_path / "lr.tif")
    torch.manual_seed(0)
    return predict_raster(tmp_path / "lr.tif", out, model=TinyConvSR().eval(), tile=16, overlap=4, device="cpu",
                          **kwargs)


def test_predict_blocks_lost_silently_are_caught_before_the_rename(tmp_path, monkeypatch):
    from deeplight.io import cog as cog_module

    real_write = cog_module._write_rows
    calls = {"n": 0}

    def loses_the_second_batch(dst, row0, rows):  # GDAL dropped these rows without an error
        calls["n"] += 1
        if calls["n"] != 2:
            real_write(dst, row0, rows)

    monkeypatch.setattr(cog_module, "_write_rows", loses_the_second_batch)
    (tmp_path / "out").mkdir()
    with pytest.raises(RasterError, match=r"writing .*sr(_uncertainty)?\.tif failed: the file written had different pixel values"):
        _predict(tmp_path, tmp_path / "out" / "sr.tif", self_ensemble=True)
    assert list_files(tmp_path / "out") == []


def test_predict_verified_output_round_trips_and_checksums_match(tmp_path):
    import rasterio

    result = _predict(tmp_path, tmp_path / "sr.tif", self_ensemble=True)
    for path in (result.path, result.uncertainty_path):
        with rasterio.open(path) as src:
            band = src.read(1)
            whole = cog.PixelChecksum()
            whole.add(band)
            by_blocks = cog.PixelChecksum()
            for _, window in src.block_windows(1):
                by_blocks.add(src.read(1, window=window), window.row_off, window.col_off)
        assert whole == by_blocks  # order and block layout do not matter
        moved = cog.PixelChecksum()
        moved.add(np.roll(band, 1, axis=1))
        assert moved != whole  # but positions do


def test_predict_on_a_real_full_tmpfs(tmp_path):
    with _small_tmpfs(tmp_path / "small", "16k") as folder:
        with pytest.raises(RasterError, match=r"no space left on the device while writing .*sr\.tif"):
            _predict(tmp_path, folder / "sr.tif")
        assert list_files(folder) == []
