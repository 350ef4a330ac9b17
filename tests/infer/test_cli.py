"""``deeplight predict`` and ``deeplight cache`` from the command line (in process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
import torch

from deeplight.cli import main
from deeplight.models.checkpoint import save_checkpoint
from deeplight.models.registry import get_model
from tests.infer.test_raster import write_lr


def _checkpoint(tmp_path):
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny")
    return save_checkpoint(
        model,
        tmp_path / "ckpt" / "tiny",
        {"model": "deeplightsr", "model_kwargs": {"preset": "tiny"}, "step": 0},
    )


def test_predict_with_a_checkpoint_then_from_the_cache(tmp_path, capsys):
    weights = _checkpoint(tmp_path)
    write_lr(tmp_path / "lr.tif", h=12, w=20)
    args = [
        "predict",
        str(tmp_path / "lr.tif"),
        "--out",
        str(tmp_path / "sr.tif"),
        "--checkpoint",
        str(weights),
        "--tile",
        "16",
        "--overlap",
        "4",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--cache-dir",
        str(tmp_path / "c"),
        "--quiet",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 tiles: 2 computed, 0 from cache" in out and "tagged simulated" in out
    meta = json.loads(weights.with_suffix(".json").read_text())
    with rasterio.open(tmp_path / "sr.tif") as ds:
        assert ds.tags()["checkpoint_sha256"] == meta["sha256"] and ds.tags()["model"] == "deeplightsr"
        first = ds.read(1)
    assert np.isfinite(first[16:]).all()
    assert main(args[:3] + [str(tmp_path / "sr2.tif")] + args[4:]) == 0
    assert "0 computed, 2 from cache" in capsys.readouterr().out
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "c")]) == 0
    assert "entries: 3" in capsys.readouterr().out  # 2 tiles + the whole output file
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "c")]) == 0
    assert "removed 3 entries" in capsys.readouterr().out


def test_bad_input_exits_with_a_message(tmp_path, capsys):
    write_lr(tmp_path / "lr.tif", h=8, w=8)
    base = ["predict", str(tmp_path / "lr.tif"), "--out", str(tmp_path / "sr.tif"), "--no-cache", "--quiet"]
    assert main(base + ["--checkpoint", str(tmp_path / "missing.safetensors")]) == 2
    assert "missing.safetensors not found" in capsys.readouterr().err
    assert main(base + ["--model", "deeplightsr", "--model-kwargs", "{preset"]) == 2
    assert "--model-kwargs is not valid JSON" in capsys.readouterr().err
    assert main(base + ["--model", "bicubic", "--device", "tpu"]) == 2
    assert "device 'tpu'" in capsys.readouterr().err
    assert main(base + ["--model", "bicubic", "--tile", "8", "--overlap", "8"]) == 2
    assert "must be smaller than tile" in capsys.readouterr().err
    assert not (tmp_path / "sr.tif").exists()


def test_random_weight_model_is_labelled(tmp_path, capsys):
    write_lr(tmp_path / "lr.tif", h=8, w=8)
    base = ["predict", str(tmp_path / "lr.tif"), "--no-cache", "--quiet", "--device", "cpu"]
    assert main(base + ["--out", str(tmp_path / "sr.tif"), "--model", "srcnn"]) == 0
    assert "random weights" in capsys.readouterr().err
    with rasterio.open(tmp_path / "sr.tif") as ds:
        assert ds.tags()["model"] == "srcnn (random weights)"
    # a weight-free baseline has nothing to train: named as the dashboard names it, no warning
    assert main(base + ["--out", str(tmp_path / "b.tif"), "--model", "bicubic"]) == 0
    assert "random weights" not in capsys.readouterr().err
    with rasterio.open(tmp_path / "b.tif") as ds:
        assert ds.tags()["model"] == "bicubic"


@pytest.mark.slow
def test_workers_flag_runs_a_local_cluster_with_the_same_output(tmp_path):
    """``python -m deeplight.infer`` is the __main__-guarded entry LocalCluster(processes=True) needs."""
    weights = _checkpoint(tmp_path)
    write_lr(tmp_path / "lr.tif", h=20, w=36)
    common = [
        str(tmp_path / "lr.tif"),
        "--checkpoint",
        str(weights),
        "--tile",
        "16",
        "--overlap",
        "4",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--no-cache",
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name, extra in (("single.tif", []), ("dask.tif", ["--workers", "2", "--always-distribute"])):
        proc = subprocess.run(
            [sys.executable, "-m", "deeplight.infer", *common, "--out", str(tmp_path / name), *extra],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
    with rasterio.open(tmp_path / "single.tif") as a, rasterio.open(tmp_path / "dask.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_log_level_shows_the_librarys_messages_and_a_bad_level_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEEPLIGHT_CACHE_DIR", str(tmp_path / "cache"))  # "2 computed" even after an earlier run
    weights = _checkpoint(tmp_path)
    write_lr(tmp_path / "lr.tif", h=12, w=20)
    args = ["predict", str(tmp_path / "lr.tif"), "--out", str(tmp_path / "sr.tif"), "--checkpoint",
            str(weights), "--tile", "16", "--overlap", "4", "--device", "cpu", "--threads", "1", "--quiet"]
    assert main(["--log-level", "info", *args]) == 0
    err = capsys.readouterr().err
    assert "deeplight: INFO: deeplight.infer.raster:" in err and "2 computed" in err
    assert main(args[:3] + [str(tmp_path / "sr2.tif")] + args[4:]) == 0  # default: warnings only
    assert "INFO" not in capsys.readouterr().err
    monkeypatch.setenv("DEEPLIGHT_LOG_LEVEL", "chatty")
    assert main(args[:3] + [str(tmp_path / "sr3.tif")] + args[4:]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "deeplight: error:" in err and "DEEPLIGHT_LOG_LEVEL" in err
    assert not (tmp_path / "sr3.tif").exists()


def test_a_small_raster_never_starts_a_cluster(tmp_path, capsys, monkeypatch):
    """``--workers 2`` on a raster of 2 tiles runs in this process (and says so); the rule itself: a
    cluster only for at least DASK_MIN_TILES_PER_WORKER tiles per worker, never for one worker."""
    from deeplight.infer import distributed

    def no_cluster(**kwargs):
        raise AssertionError("a cluster was started for a 2-tile raster")

    monkeypatch.setattr(distributed, "start_client", no_cluster)
    weights = _checkpoint(tmp_path)
    write_lr(tmp_path / "lr.tif", h=12, w=20)
    args = ["predict", str(tmp_path / "lr.tif"), "--out", str(tmp_path / "sr.tif"), "--checkpoint", str(weights),
            "--tile", "16", "--overlap", "4", "--device", "cpu", "--threads", "1", "--no-cache", "--quiet",
            "--workers", "2"]
    assert main(args) == 0
    assert "running in this process" in capsys.readouterr().err
    assert (tmp_path / "sr.tif").exists()
    n = distributed.DASK_MIN_TILES_PER_WORKER
    assert not distributed.local_cluster_worth_it(2 * n - 1, 2)
    assert distributed.local_cluster_worth_it(2 * n, 2)
    assert not distributed.local_cluster_worth_it(1000, 1)
