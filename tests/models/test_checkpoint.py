"""Checkpoints: safetensors + JSON, atomic, verified, never unpickled."""

from __future__ import annotations

import json

import pytest
import torch

from deeplight.errors import CheckpointError
from deeplight.models.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint
from deeplight.models.registry import get_model, list_models


def _batch(h: int = 8, w: int = 8) -> dict[str, torch.Tensor]:
    return {
        "lr": torch.rand(1, 1, h, w),
        "dmo": torch.rand(1, 7, 8 * h, 8 * w),
        "dem": torch.rand(1, 1, 8 * h, 8 * w),
        "present": torch.tensor([[0.0, 1.0, 1.0, 0.0]]),
    }


def _learned_model_name() -> str:
    for name in list_models():
        if sum(p.numel() for p in get_model(name).parameters()) > 0 and name.startswith("deeplight"):
            return name
    raise AssertionError("no DeepLightSR model registered")


def test_round_trip_gives_identical_outputs(tmp_path):
    name = _learned_model_name()
    model = get_model(name).eval()
    path = save_checkpoint(model, tmp_path / "ckpt", {"model": name, "model_kwargs": {}, "step": 3})
    assert path.suffix == ".safetensors" and path.exists()
    meta = read_checkpoint_meta(path)
    assert meta["step"] == 3 and len(meta["sha256"]) == 64 and meta["code_version"]
    loaded, _ = load_checkpoint(tmp_path / "ckpt.json")
    batch = _batch()
    with torch.no_grad():
        torch.testing.assert_close(loaded(batch)["sr"], model(batch)["sr"], rtol=0, atol=0)
    assert not list(tmp_path.glob(".*tmp")), "temporary files left behind"


def test_corrupt_weights_are_detected(tmp_path):
    name = _learned_model_name()
    path = save_checkpoint(get_model(name), tmp_path / "c", {"model": name, "model_kwargs": {}})
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_missing_hash_is_an_error_not_a_skipped_check(tmp_path):
    name = _learned_model_name()
    path = save_checkpoint(get_model(name), tmp_path / "c", {"model": name, "model_kwargs": {}})
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    for bad in (None, "", "abc"):
        if bad is None:
            meta.pop("sha256", None)
        else:
            meta["sha256"] = bad
        meta_path.write_text(json.dumps(meta))
        with pytest.raises(CheckpointError, match="no valid 'sha256'.*re-save"):
            load_checkpoint(path)


def test_wrong_model_and_missing_files_are_clear_errors(tmp_path):
    name = _learned_model_name()
    path = save_checkpoint(get_model(name), tmp_path / "c", {"model": name, "model_kwargs": {}})
    with pytest.raises(CheckpointError, match="holds model"):
        load_checkpoint(path, expect_model="edsr")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent")
    with pytest.raises(CheckpointError, match="model_kwargs"):
        save_checkpoint(get_model(name), tmp_path / "d", {"model": name})
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["model_kwargs"] = {"no_such_argument": 1}
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="cannot build"):
        load_checkpoint(path)
    meta_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path)
