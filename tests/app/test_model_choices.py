"""The model picker's list: readable checkpoints, then the weight-free baselines."""

from __future__ import annotations

import json

from app.reconstruction import list_model_choices
from app.settings import Settings


def test_unreadable_checkpoint_json_is_left_out_not_a_crash(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for stem in ("good", "broken", "binary", "listed", "nameless"):
        (folder / f"{stem}.safetensors").write_bytes(b"")
    (folder / "good.json").write_text(json.dumps({"model": "deeplightsr", "model_kwargs": {}}))
    (folder / "broken.json").write_text("{")
    (folder / "binary.json").write_bytes(b"\xff\xfe\x00")
    (folder / "listed.json").write_text("[1, 2]")
    (folder / "nameless.json").write_text(json.dumps({"step": 3}))
    (folder / "orphan.safetensors").write_bytes(b"")  # no JSON: offered under its stem, load says why
    settings = Settings(
        home=tmp_path,
        data_dir=None,
        checkpoint_dir=folder,
        results_dir=tmp_path,
        upload_limit_mb=50,
        online_basemap=False,
    )
    choices = list_model_choices(settings)
    checkpoints = [c for c in choices if c.checkpoint is not None]
    assert [(c.id, c.name) for c in checkpoints] == [("ckpt:good", "deeplightsr"), ("ckpt:orphan", "orphan")]
    assert checkpoints[0].checkpoint == folder / "good.safetensors"
    baselines = [c for c in choices if c.checkpoint is None]
    assert "bicubic" in [c.name for c in baselines]
    assert choices.index(checkpoints[0]) == 0  # DeepLightSR first
