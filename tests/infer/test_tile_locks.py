"""Concurrent predictions on one fresh cache compute every tile once (a lock per tile key).

Three processes predict the same tiny raster at the same moment with a bicubic model that appends one
line per inference to a counter file (batch size 1, so one line per tile) and sleeps a little, so the
runs overlap. Together they must run the model exactly once per tile, and write identical outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import rasterio

from deeplight.infer.cache import TileCache
from deeplight.infer.tiling import plan_tiles
from tests.infer.test_raster import write_lr

DRIVER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    import torch

    from deeplight.infer.cache import TileCache
    from deeplight.infer.raster import predict_raster
    from deeplight.models.registry import get_model

    counter, go, lr, out, cache_dir = sys.argv[1:6]


    class CountingBicubic(torch.nn.Module):
        family = "calibration"

        def __init__(self):
            super().__init__()
            self.inner = get_model("bicubic")

        def forward(self, batch):
            with open(counter, "a", encoding="utf-8") as fh:  # O_APPEND: one whole line per call
                fh.write(f"{os.getpid()} {batch['lr'].shape[0]}\\n")
            time.sleep(0.15)
            return self.inner(batch)


    torch.set_num_threads(1)
    model = CountingBicubic()
    model.registry_name = "counting-bicubic"
    Path(out + ".ready").touch()
    deadline = time.monotonic() + 120
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    result = predict_raster(lr, out, model=model, tile=12, overlap=4, batch_size=1, device="cpu",
                            cache=TileCache(cache_dir))
    print(json.dumps({"tiles": result.tiles, "computed": result.computed, "cached": result.cached}))
    """
)


def test_three_processes_on_one_fresh_cache_compute_each_tile_once(tmp_path):
    write_lr(tmp_path / "lr.tif", h=40, w=40)
    expected_tiles = len(plan_tiles(40, 40, 12, 4))
    assert expected_tiles >= 9
    script = tmp_path / "driver.py"
    script.write_text(DRIVER, encoding="utf-8")
    counter, go, cache_dir = tmp_path / "inferences.txt", tmp_path / "go", tmp_path / "cache"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    outs = [tmp_path / f"sr{i}.tif" for i in range(3)]
    procs = [
        subprocess.Popen([sys.executable, str(script), str(counter), str(go), str(tmp_path / "lr.tif"), str(out),
                          str(cache_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for out in outs
    ]
    try:
        deadline = time.monotonic() + 240
        while not all(Path(f"{out}.ready").exists() for out in outs):  # every process imported torch
            assert time.monotonic() < deadline, "the driver processes did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        go.touch()  # all three start predicting now
        results = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, stderr
            results.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    lines = counter.read_text(encoding="utf-8").splitlines()
    assert len(lines) == expected_tiles, lines  # the model ran once per tile, over all three processes
    assert all(line.split()[1] == "1" for line in lines)
    assert sum(r["computed"] for r in results) == expected_tiles, results
    assert all(r["tiles"] == expected_tiles for r in results)
    assert len({line.split()[0] for line in lines}) >= 2, "the runs did not overlap: the test proves nothing"
    arrays = []
    for out in outs:
        with rasterio.open(out) as src:
            arrays.append(src.read(1))
    for other in arrays[1:]:
        np.testing.assert_array_equal(other, arrays[0])
    info = TileCache(cache_dir).info()
    assert info.entries >= expected_tiles


def test_a_tile_claimed_by_a_run_that_died_is_computed_by_the_next(tmp_path):
    """A lock file left by a killed run holds no lock (the kernel drops it): the next run computes."""
    from deeplight.infer.raster import predict_raster
    from deeplight.models.registry import get_model

    write_lr(tmp_path / "lr.tif", h=16, w=16)
    cache = TileCache(tmp_path / "cache")
    cache.ensure_folder()
    (cache.root / "locks").mkdir(parents=True, exist_ok=True)
    for name in ("a" * 64, "b" * 64):
        (cache.root / "locks" / f"{name}.lock").touch()  # stale lock files, nobody holds them
    result = predict_raster(tmp_path / "lr.tif", tmp_path / "sr.tif", model=get_model("bicubic"), tile=8,
                            overlap=2, batch_size=1, device="cpu", cache=cache)
    assert result.computed == result.tiles
    again = predict_raster(tmp_path / "lr.tif", tmp_path / "sr2.tif", model=get_model("bicubic"), tile=8,
                           overlap=2, batch_size=1, device="cpu", cache=TileCache(tmp_path / "cache"))
    assert again.computed == 0
