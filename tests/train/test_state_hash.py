"""The training state carries its SHA-256 (``state.pt.sha256``), as checkpoints do.

A damaged ``state.pt`` is refused with a message naming it and suggesting ``--fresh``; a run written by
an older DeepLight (no sidecar) still resumes, with a warning; the sidecar matches the file at every
moment of a save, so a run killed mid-save still resumes; ``train.export`` may not replace the run's
own checkpoints.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from deeplight.errors import CheckpointError, ConfigError
from deeplight.train.config import config_from_dict
from deeplight.train.distributed import DistContext
from deeplight.train.trainer import Trainer, export_best
from deeplight.utils_io import read_hash_sidecar, replace_with_hash
from tests.train.tiny_data import TinySamples

CPU = DistContext()


def _config(out_dir, steps: int = 4, **train):
    return config_from_dict({
        "model": {"name": "srcnn"},
        "data": {"batch_size": 2},
        "optim": {"lr": 1e-3, "warmup_steps": 1},
        "train": {"steps": steps, "val_every": 2, "log_every": 2, "ckpt_every": 2, "seed": 0, "out_dir": str(out_dir),
                  "device": "cpu", **train},
    })


@pytest.fixture(scope="module")
def sets():
    return TinySamples(4, offset=0), TinySamples(2, offset=1000)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fit(out_dir, sets, steps=4, **train):
    return Trainer(_config(out_dir, steps, **train), *sets, ctx=CPU, show_progress=False).fit()


def test_the_state_is_saved_with_its_hash_and_a_changed_state_is_refused(tmp_path, sets):
    run = tmp_path / "run"
    _fit(run, sets, steps=2)
    state = run / "state.pt"
    assert read_hash_sidecar(state) == [_sha(state)]
    assert not list(run.glob(".state.pt*")), "no staging file left"
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit: a weight off by a factor, or a broken archive
    state.write_bytes(bytes(data))
    refused = r"state\.pt is corrupt or was changed.*does not match its recorded SHA-256.*--fresh"
    with pytest.raises(CheckpointError, match=refused):
        _fit(run, sets, steps=4)


def test_a_state_without_sidecar_resumes_with_a_warning(tmp_path, sets):
    run = tmp_path / "run"
    _fit(run, sets, steps=2)
    (run / "state.pt.sha256").unlink()  # as written by DeepLight before the sidecar existed
    with pytest.warns(UserWarning, match=r"state\.pt has no hash sidecar.*resuming without verifying"):
        result = _fit(run, sets, steps=4)
    assert result.steps == 4
    assert read_hash_sidecar(run / "state.pt") == [_sha(run / "state.pt")]  # written by the next save


def test_the_sidecar_matches_the_file_at_every_step_of_a_replacement(tmp_path, monkeypatch):
    final, staged = tmp_path / "state.pt", tmp_path / ".state.pt.staged"
    (tmp_path / "first").write_bytes(b"old state")
    replace_with_hash(tmp_path / "first", final)
    old = _sha(final)
    staged.write_bytes(b"new state")
    seen = []
    real_replace = os.replace

    def watching_replace(src, dst):  # every rename (sidecar writes and the state itself): before and after
        seen.append((_sha(final), read_hash_sidecar(final)))
        real_replace(src, dst)
        seen.append((_sha(final), read_hash_sidecar(final)))

    monkeypatch.setattr(os, "replace", watching_replace)
    replace_with_hash(staged, final)
    monkeypatch.undo()
    new = _sha(final)
    assert len(seen) == 6  # sidecar (new + old), the state, sidecar (new only): a kill at any moment resumes
    assert all(digest in recorded for digest, recorded in seen), seen
    assert {digest for digest, _ in seen} == {old, new}
    assert read_hash_sidecar(final) == [new] and new != old


def test_export_onto_the_runs_own_checkpoint_is_refused_before_training(tmp_path, sets):
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"train\.export.*the run's best checkpoint"):
        _fit(run, sets, steps=2, export=str(run / "best"))
    assert not run.exists(), "refused before anything was written"
    _fit(run, sets, steps=2)
    before = _sha(run / "last.safetensors")
    with pytest.raises(ConfigError, match=r"train\.export.*the run's last checkpoint"):
        export_best(run, run / "last.safetensors")
    assert _sha(run / "last.safetensors") == before
    assert export_best(run, tmp_path / "exported").with_suffix(".json").exists()
