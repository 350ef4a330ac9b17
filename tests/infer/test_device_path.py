"""The GPU pipeline's device-independent logic, run on the CPU: the prefetch thread, blending on torch
tensors, outputs left on the device, deferred cache stores. (The CUDA run itself needs a GPU.)"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from deeplight.infer import TileCache
from deeplight.infer.blending import BlendingAccumulator, TorchBlendingAccumulator
from deeplight.infer.engine import TileBatch, run_tile_batch
from deeplight.infer.executors import LocalExecutor
from deeplight.infer.prefetch import Prefetcher
from deeplight.infer.sources import ArraySource
from deeplight.infer.tiled import run_tiled
from deeplight.infer.tiling import plan_tiles
from tests.infer.tiny_models import TinyConvSR, random_tile_inputs

CPU = torch.device("cpu")


# -- the prefetch queue ------------------------------------------------------------------------
def test_prefetcher_keeps_the_order_and_reads_at_most_depth_plus_one_ahead():
    produced: list[int] = []

    def items():
        for i in range(20):
            produced.append(i)
            yield i

    fetched = Prefetcher(items(), depth=2)
    got = []
    for item in fetched:
        time.sleep(0.002)  # a slow consumer: the producer must wait for it
        assert len(produced) - len(got) <= 2 + 2  # queued (2) + being produced (1) + this item
        got.append(item)
    assert got == list(range(20))


def test_prefetcher_raises_the_producers_error_at_its_position():
    def items():
        yield 1
        yield 2
        raise ValueError("bad tile")

    fetched = Prefetcher(items(), depth=1)
    assert next(fetched) == 1 and next(fetched) == 2
    with pytest.raises(ValueError, match="bad tile"):
        next(fetched)
    with pytest.raises(StopIteration):
        next(fetched)


def test_prefetcher_runs_the_producer_in_another_thread_and_close_stops_it():
    threads, closed = set(), threading.Event()

    def items():
        try:
            for i in range(10_000):
                threads.add(threading.current_thread().name)
                yield i
        finally:
            closed.set()

    fetched = Prefetcher(items(), depth=1, name="test-prefetch")
    assert next(fetched) == 0
    fetched.close()
    assert closed.is_set() and threads == {"test-prefetch"}
    with pytest.raises(StopIteration):
        next(fetched)


# -- blending on torch tensors -------------------------------------------------------------------
@pytest.mark.parametrize("h,w,tile,overlap", [(45, 30, 16, 8), (37, 53, 16, 12), (20, 20, 32, 4)])
def test_torch_accumulator_equals_the_numpy_one(h, w, tile, overlap):
    rng = np.random.default_rng(0)
    nodata = np.zeros((h, w), bool)
    nodata[3, 4] = nodata[h - 1, 0] = True
    outputs = {}
    for kind in ("numpy", "torch"):
        rows, uncs = [], []

        def writer(r0, radiance, unc, rows=rows, uncs=uncs):
            rows.append((r0, np.array(radiance)))
            uncs.append(np.array(unc))

        args = (h, w, plan_tiles(h, w, tile, overlap)[0].height, overlap, writer, lambda a, b: nodata[a:b])
        acc = (BlendingAccumulator(*args, with_uncertainty=True) if kind == "numpy"
               else TorchBlendingAccumulator(*args, with_uncertainty=True, device=CPU))
        for t in plan_tiles(h, w, tile, overlap):
            pred = rng.random((t.height * 8, t.width * 8), dtype=np.float32)
            unc = rng.random((t.height * 8, t.width * 8), dtype=np.float32)
            if kind == "torch":  # a device tensor, and a numpy array (a cache hit), both accepted
                pred = torch.from_numpy(pred)
            acc.add(t, pred, unc)
        acc.finish()
        rng = np.random.default_rng(0)
        outputs[kind] = (rows, uncs)
    (np_rows, np_unc), (t_rows, t_unc) = outputs["numpy"], outputs["torch"]
    assert [r0 for r0, _ in np_rows] == [r0 for r0, _ in t_rows]
    a, b = np.concatenate([r for _, r in np_rows]), np.concatenate([r for _, r in t_rows])
    assert a.shape == (h * 8, w * 8)
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    assert np.array_equal(np.isnan(a), np.isnan(b)) and np.isnan(a).sum() == 2 * 64
    np.testing.assert_allclose(np.concatenate(t_unc), np.concatenate(np_unc), rtol=1e-6, atol=1e-7)


def test_torch_accumulator_copies_rows_to_the_host_once_per_tile_row():
    h, w, tile, overlap = 60, 40, 16, 4
    plan = plan_tiles(h, w, tile, overlap)
    acc = TorchBlendingAccumulator(h, w, plan[0].height, overlap, lambda *a: None,
                                   lambda a, b: np.zeros((b - a, w), bool), device=CPU)
    for t in plan:
        acc.add(t, torch.ones(t.height * 8, t.width * 8))
    acc.finish()
    tile_rows = len({t.row for t in plan})
    assert acc.flushes == tile_rows  # not one per tile or per batch


# -- outputs left on the device through the whole loop --------------------------------------------
@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TinyConvSR().eval()


def _run(model, source, *, device_outputs, prefetch=1, cache=None, batch_size=2, self_ensemble=False):
    hr = np.full((source.lr_height * 8, source.lr_width * 8), -1.0, np.float32)
    unc = np.full_like(hr, -1.0)

    def write(row0, rows, u):
        hr[row0:row0 + rows.shape[0]] = rows
        if u is not None:
            unc[row0:row0 + u.shape[0]] = u

    executor = LocalExecutor(model, CPU, self_ensemble, device_outputs=device_outputs)
    stats = run_tiled(source, executor, write, tile=16, overlap=12, batch_size=batch_size,
                      self_ensemble=self_ensemble, model_id="m", params={}, cache=cache, prefetch=prefetch)
    return hr, unc, stats


def test_run_tile_batch_can_leave_its_outputs_on_the_device(model):
    lr, aux = random_tile_inputs(h=16, w=16)
    batch = TileBatch(lr[None], aux["dmo"][None], aux["dem"][None])
    kept = run_tile_batch(model.eval(), batch, CPU, self_ensemble=True, on_device=True)
    host = run_tile_batch(model.eval(), batch, CPU, self_ensemble=True)
    assert isinstance(kept.radiance, torch.Tensor) and isinstance(host.radiance, np.ndarray)
    np.testing.assert_array_equal(kept.radiance.numpy(), host.radiance)
    np.testing.assert_array_equal(kept.uncertainty.numpy(), host.uncertainty)


@pytest.mark.parametrize("self_ensemble", [False, True])
def test_device_outputs_and_prefetch_give_the_numpy_paths_output(model, self_ensemble):
    lr, aux = random_tile_inputs()
    source = ArraySource(lr, aux)
    ref, ref_unc, _ = _run(model, source, device_outputs=False, prefetch=0, self_ensemble=self_ensemble)
    for device_outputs, prefetch in ((False, 1), (True, 0), (True, 2)):
        got, unc, stats = _run(model, source, device_outputs=device_outputs, prefetch=prefetch,
                               self_ensemble=self_ensemble)
        assert (got != -1).all()
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)
        assert np.array_equal(np.isnan(got), np.isnan(ref))
        if self_ensemble:
            np.testing.assert_allclose(unc, ref_unc, rtol=1e-5, atol=1e-6)
        assert {"read", "model", "blend", "write"} <= set(stats["seconds"])


def test_device_outputs_are_cached_after_the_flush_and_reused(model, tmp_path):
    lr, aux = random_tile_inputs(seed=1)
    source = ArraySource(lr, aux)
    cache = TileCache(tmp_path / "cache")
    first, _, stats = _run(model, source, device_outputs=True, cache=cache)
    assert stats["computed"] == stats["tiles"] > 4
    assert cache.info().entries == stats["tiles"]  # every tile stored (from the deferred host copies)
    again, _, stats2 = _run(model, source, device_outputs=False, cache=cache)
    assert stats2["computed"] == 0 and stats2["cached"] == stats["tiles"]
    np.testing.assert_allclose(again, first, rtol=1e-6, atol=1e-6)


def test_an_error_while_reading_ahead_reaches_the_caller(model):
    lr, aux = random_tile_inputs()
    source = ArraySource(lr, aux)
    real_read = source.read
    calls = {"n": 0}

    def failing(tile):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk went away")
        return real_read(tile)

    source.read = failing
    with pytest.raises(RuntimeError, match="disk went away"):
        _run(model, source, device_outputs=True, batch_size=1)


# The CUDA run itself is checked by benchmarks/gpu_check.py on a machine with a GPU (no test here
# may need one).


def test_read_ahead_batches_are_cut_to_the_tiles_still_to_compute(model, tmp_path):
    """With part of a raster's tiles cached, the prefetch thread reads only the others, and a batch
    read ahead is cut down to the tiles this run claims (the claims stay in the loop's thread)."""
    lr, aux = random_tile_inputs(seed=2)
    source = ArraySource(lr, aux)
    cache = TileCache(tmp_path / "cache")
    ref, _, stats = _run(model, source, device_outputs=False, prefetch=0, cache=cache, batch_size=3)
    entries = sorted((tmp_path / "cache" / "entries").glob("*/*.dlc"))
    for entry in entries[::2]:
        entry.unlink()
    got, _, again = _run(model, source, device_outputs=False, prefetch=2, cache=cache, batch_size=3)
    assert again["computed"] == len(entries[::2]) and again["cached"] == stats["tiles"] - again["computed"]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)  # batches of 1-2 tiles instead of 3
