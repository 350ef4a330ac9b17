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


def test_keys_change_with_the_model_code(monkeypatch):
    """Same weights, same inputs, other model code (a new default, a fix): another key, so an upgrade
    never serves the old code's predictions."""
    from deeplight.infer import cache as cache_module

    before = cache_key(model="m", inputs="i")
    assert len(cache_module.prediction_code_id()) == 64
    monkeypatch.setattr(cache_module, "prediction_code_id", lambda: "other code")
    assert cache_key(model="m", inputs="i") != before


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


def test_every_default_follows_one_home_rule(monkeypatch, tmp_path):
    """DEEPLIGHT_HOME is read in one place (deeplight.runtime): the catalogue, the prediction cache, the
    training preload cache and the dashboard's settings agree, also when it is blank or unset."""
    from app.settings import get_settings
    from deeplight import catalog, runtime
    from deeplight.train.preloaded import cache_path

    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "manifest.json").write_text("{}")
    monkeypatch.delenv("DEEPLIGHT_CACHE_DIR", raising=False)
    default = runtime.REPO_ROOT / "data" / "runtime"
    for value, home in ((str(tmp_path / "h"), tmp_path / "h"), ("  ", default), (None, default)):
        if value is None:
            monkeypatch.delenv("DEEPLIGHT_HOME", raising=False)
        else:
            monkeypatch.setenv("DEEPLIGHT_HOME", value)
        assert catalog.default_home() == get_settings().home == home
        assert TileCache().root == get_settings().cache_dir == home / "cache"
        assert cache_path(tmp_path / "set", "train").parent == home / "cache" / "preloaded"
    monkeypatch.setenv("DEEPLIGHT_CACHE_DIR", str(tmp_path / "c"))
    assert TileCache().root == get_settings().cache_dir == tmp_path / "c"  # the CLI and the app share it


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


# -- the marker: `cache clear` deletes only inside folders the cache created ------------------------------
def _layout_lookalikes(folder: Path) -> list[Path]:
    """Files a user might keep that match the cache layout's patterns."""
    made = []
    for rel in ("files/ab/abreport.pdf", "files/no/notes.txt", "entries/aa/aa.dlc", "tmp/draft.tmp",
                "locks/x.lock", "keep.txt"):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"precious " + rel.encode())
        made.append(path)
    return made


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_cache_marks_the_folder_it_creates(tmp_path):
    from deeplight.infer.cache import MARKER_NAME

    cache = TileCache(tmp_path / "new" / "cache")
    assert not cache.is_marked()
    cache.put("a" * 64, _arrays(0))
    assert (tmp_path / "new" / "cache" / MARKER_NAME).is_file() and cache.is_marked()
    assert cache.clear() == 1 and cache.is_marked()  # the marker survives a clear


def test_clear_on_an_unmarked_folder_is_an_error_and_deletes_nothing(tmp_path):
    from deeplight.infer.cache import NotACacheFolderError

    _layout_lookalikes(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(NotACacheFolderError, match=r"not a DeepLight cache folder .*nothing was deleted"):
        TileCache(tmp_path).clear()
    assert TileCache(tmp_path).evict() == 0
    assert _snapshot(tmp_path) == before


def test_cli_clear_on_an_unmarked_folder_exits_2_and_deletes_nothing(tmp_path, capsys):
    from deeplight.cli import main

    _layout_lookalikes(tmp_path)
    before = _snapshot(tmp_path)
    assert main(["cache", "clear", "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deeplight: error: ") and str(tmp_path) in err and "no .deeplight-cache marker" in err
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before
    assert main(["cache", "info", "--cache-dir", str(tmp_path)]) == 0
    assert "not marked as a DeepLight cache folder" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "absent")]) == 0
    assert "nothing to clear" in capsys.readouterr().out and not (tmp_path / "absent").exists()


def test_a_folder_with_other_files_is_never_adopted_and_only_warns(tmp_path):
    (tmp_path / "thesis.tex").write_text("precious")
    cache = TileCache(tmp_path)
    with pytest.warns(UserWarning, match="not using the prediction cache: .*not a DeepLight cache folder"):
        arrays, hit = cache.get_or_compute("c" * 64, lambda: _arrays(3))
    assert not hit and not cache.is_marked()
    np.testing.assert_array_equal(arrays["radiance"], _arrays(3)["radiance"])
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]  # no entry, no lock, no marker


def test_clear_in_a_marked_folder_spares_files_not_named_like_entries(tmp_path):
    cache = TileCache(tmp_path)
    cache.put("d" * 64, _arrays(0))
    stray = tmp_path / "files" / "zz" / "mine.txt"  # its name does not start with its folder's name
    stray.parent.mkdir(parents=True)
    stray.write_text("mine")
    assert cache.clear() == 1
    assert stray.read_text() == "mine" and not cache.contains("d" * 64)


def test_an_older_unmarked_cache_is_adopted_on_its_next_write(tmp_path):
    old = tmp_path / "cache"
    TileCache(old).put("e" * 64, _arrays(0))
    (old / ".deeplight-cache").unlink()  # as written by DeepLight before the marker existed
    with pytest.raises(Exception, match="not a DeepLight cache folder"):
        TileCache(old).clear()
    cache = TileCache(old)
    cache.put("f" * 64, _arrays(1))
    assert cache.is_marked() and cache.clear() == 2


def test_an_unmarked_folder_with_lookalike_files_is_not_adopted(tmp_path):
    from deeplight.infer.cache import NotACacheFolderError

    _layout_lookalikes(tmp_path / "project")
    (tmp_path / "project" / "keep.txt").unlink()  # only layout-named folders left, but not cache files
    before = _snapshot(tmp_path / "project")
    cache = TileCache(tmp_path / "project")
    with pytest.raises(NotACacheFolderError, match=r"already holds other files \(.*abreport\.pdf"):
        cache.ensure_folder()
    with pytest.warns(UserWarning, match="not using the prediction cache"):
        assert not cache.put_or_warn("a" * 64, _arrays(0))
    assert _snapshot(tmp_path / "project") == before and not cache.is_marked()
