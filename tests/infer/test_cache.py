"""The content-addressed cache: round trip, corruption, LRU eviction, locks, concurrent requests."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deeplight.errors import ConfigError
from deeplight.infer import TileCache, cache_key, predict_array
from deeplight.infer.locks import LockTimeout, file_lock
from tests.infer.tiny_models import CountingModel


def _arrays(seed: int, size: int = 16) -> dict[str, np.ndarray]:
    return {"radiance": np.random.default_rng(seed).random((size, size), dtype=np.float32)}


def test_round_trip_and_miss(tmp_path):
    cache = TileCache(tmp_path)
    key = cache_key(model="m", inputs="i", window=[0, 0, 8, 8])
    assert cache.get(key) is None
    cache.put(key, _arrays(0))
    np.testing.assert_array_equal(cache.get(key)["radiance"], _arrays(0)["radiance"])
    assert cache.info().entries == 1 and cache.info().bytes > 1024
    assert (cache.hits, cache.misses) == (1, 1)


def test_keys_depend_on_every_part():
    base = dict(model="m", inputs="i", window=[0, 0, 8, 8], self_ensemble=False)
    keys = {cache_key(**base)}
    for change in ({"model": "m2"}, {"inputs": "j"}, {"window": [0, 8, 8, 8]}, {"self_ensemble": True}):
        keys.add(cache_key(**{**base, **change}))
    assert len(keys) == 5
    assert cache_key(a=1, b=2) == cache_key(b=2, a=1)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_entry_is_detected_deleted_and_recomputed(tmp_path, damage):
    cache = TileCache(tmp_path)
    cache.put("k" * 64, _arrays(0))
    path = cache.entry_path("k" * 64)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-5] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray(b"not a cache entry")
    path.write_bytes(bytes(data))
    assert cache.get("k" * 64) is None
    assert cache.corrupt == 1 and not path.exists()
    arrays, hit = cache.get_or_compute("k" * 64, lambda: _arrays(1))
    assert not hit
    np.testing.assert_array_equal(cache.get("k" * 64)["radiance"], _arrays(1)["radiance"])


def test_least_recently_used_entries_are_evicted(tmp_path):
    one = len(np.zeros((64, 64), np.float32).tobytes())
    cache = TileCache(tmp_path, max_bytes=int(3.5 * one))
    for i, key in enumerate("abc"):
        cache.put(key * 64, _arrays(i, 64))
        os.utime(cache.entry_path(key * 64), (1000 + i, 1000 + i))  # a before b before c
    cache.get("a" * 64)  # a becomes the most recently used
    cache.put("d" * 64, _arrays(3, 64))
    assert cache.get("b" * 64) is None  # the least recently used went first
    assert all(cache.contains(k * 64) for k in "acd")
    assert cache.info().bytes <= cache.max_bytes


def test_clear_removes_entries_and_leftovers(tmp_path):
    cache = TileCache(tmp_path)
    cache.put("a" * 64, _arrays(0))
    (tmp_path / "tmp" / "stale.tmp").write_bytes(b"half")
    assert cache.clear() == 1
    assert cache.info().entries == 0 and not list((tmp_path / "tmp").iterdir())


def test_bad_size_limit(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="cache size limit must be positive"):
        TileCache(tmp_path, max_bytes=0)
    monkeypatch.setenv("DEEPLIGHT_CACHE_MAX_GB", "lots")
    with pytest.raises(ConfigError, match="DEEPLIGHT_CACHE_MAX_GB must be a number"):
        TileCache(tmp_path)


def test_default_folder_follows_deeplight_home(monkeypatch, tmp_path):
    monkeypatch.delenv("DEEPLIGHT_CACHE_DIR", raising=False)
    monkeypatch.setenv("DEEPLIGHT_HOME", str(tmp_path))
    assert TileCache().root == tmp_path / "cache"


def test_lock_times_out_while_held(tmp_path):
    with file_lock(tmp_path / "x.lock"):
        with pytest.raises(LockTimeout, match="still held"):
            with file_lock(tmp_path / "x.lock", timeout=0.1):
                pass


def test_five_concurrent_sessions_trigger_exactly_one_inference(tmp_path):
    """The dashboard's case: 5 sessions (threads) ask for the same region at once."""
    torch.manual_seed(0)
    model = CountingModel().eval()
    CountingModel.calls = 0
    lr = np.random.default_rng(0).uniform(0, 63, (24, 24)).astype(np.float32)
    cache = TileCache(tmp_path)
    barrier = threading.Barrier(5)
    results = [None] * 5

    def session(i: int) -> None:
        barrier.wait()
        results[i] = predict_array(
            model, lr, None, tile=32, overlap=0, device="cpu", cache=cache, model_id="model-a"
        )

    threads = [threading.Thread(target=session, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CountingModel.calls == 1  # one tile, one batch, one forward pass in total
    assert sum(not r.from_cache for r in results) == 1
    for r in results:
        np.testing.assert_array_equal(r.radiance, results[0].radiance)


def _process_request(root: str, marker_dir: str, index: int, start) -> None:
    start.wait(60)  # all processes ask at once

    def compute():
        Path(marker_dir, f"computed-{index}").touch()
        time.sleep(0.3)
        return _arrays(7)

    TileCache(root).get_or_compute("r" * 64, compute)


def test_concurrent_processes_compute_once(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(5)
    procs = [
        ctx.Process(target=_process_request, args=(str(tmp_path / "c"), str(markers), i, start))
        for i in range(5)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 5
    assert len(list(markers.iterdir())) == 1
    np.testing.assert_array_equal(TileCache(tmp_path / "c").get("r" * 64)["radiance"], _arrays(7)["radiance"])


def test_repeated_request_is_served_from_cache(tmp_path):
    model = CountingModel().eval()
    lr = np.random.default_rng(0).uniform(0, 63, (20, 20)).astype(np.float32)
    cache = TileCache(tmp_path)
    first = predict_array(model, lr, None, tile=16, overlap=4, device="cpu", cache=cache, self_ensemble=True)
    CountingModel.calls = 0
    second = predict_array(model, lr, None, tile=16, overlap=4, device="cpu", cache=cache, self_ensemble=True)
    assert CountingModel.calls == 0 and second.from_cache and not first.from_cache
    np.testing.assert_array_equal(first.uncertainty, second.uncertainty)
    lr2 = lr.copy()
    lr2[0, 0] += 1  # new content -> new key
    third = predict_array(model, lr2, None, tile=16, overlap=4, device="cpu", cache=cache, self_ensemble=True)
    assert not third.from_cache


def test_a_cache_that_cannot_be_written_only_warns(tmp_path, monkeypatch):
    cache = TileCache(tmp_path)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache, "put", full_disk)
    with pytest.warns(UserWarning, match="could not write to the prediction cache"):
        arrays, hit = cache.get_or_compute("z" * 64, lambda: _arrays(2))
    assert not hit
    np.testing.assert_array_equal(arrays["radiance"], _arrays(2)["radiance"])


def test_caller_supplied_input_id_replaces_array_hashing(tmp_path):
    model = CountingModel().eval()
    lr = np.random.default_rng(0).uniform(0, 63, (12, 12)).astype(np.float32)
    cache = TileCache(tmp_path)
    kwargs = dict(tile=16, overlap=4, device="cpu", cache=cache, model_id="m")
    first = predict_array(model, lr, None, input_id="scene-sha+window-1", **kwargs)
    again = predict_array(model, lr, None, input_id="scene-sha+window-1", **kwargs)
    other = predict_array(model, lr, None, input_id="scene-sha+window-2", **kwargs)
    assert not first.from_cache and again.from_cache and not other.from_cache
