"""Training from a DeepLightMD folder written by the data package, through the CLI; bad folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import rasterio

from deeplight.cli import main as deeplight_main
from deeplight.data.synth_writer import write_deeplightmd
from deeplight.errors import RasterError
from deeplight.train.config import load_config
from deeplight.train.trainer import build_datasets


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "tiny"
    write_deeplightmd(root, n_train=8, n_val=4, n_test=4, lr_size=8, seed=3)
    return root


def _config_file(tmp_path, root, steps=4):
    text = f"""
model: {{name: deeplightsr, kwargs: {{preset: tiny}}}}
data: {{root: {root}, batch_size: 4}}
optim: {{lr: 2.0e-3, warmup_steps: 1}}
train: {{steps: {steps}, val_every: 2, log_every: 2, ckpt_every: 2, out_dir: {tmp_path / 'run'}, device: cpu,
        export: {tmp_path / 'exported'}}}
"""
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_trains_from_folder_and_exports(tmp_path, tiny_folder, monkeypatch, capsys):
    monkeypatch.setenv("DEEPLIGHT_HOME", str(tmp_path / "home"))
    cfg = _config_file(tmp_path, tiny_folder)
    assert deeplight_main(["train", "--config", str(cfg), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "trained deeplightsr to step 4" in out
    meta = json.loads((tmp_path / "exported.json").read_text())
    assert meta["model"] == "deeplightsr" and meta["step"] in (2, 4)
    assert '"seed": 3' in meta["data"] and meta["simulated_lr"] is True
    # The preloaded split is cached once and reused.
    assert len(list((tmp_path / "home" / "cache" / "preloaded").glob("*.safetensors"))) == 2
    # --set overrides and resume: continue the same run to 6 steps.
    assert deeplight_main(["train", "--config", str(cfg), "--no-progress", "--set", "train.steps=6"]) == 0
    assert json.loads((tmp_path / "run" / "last.json").read_text())["step"] == 6


def test_config_typo_is_reported_by_the_cli(tmp_path, tiny_folder, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("optim: {lr: 1.0e-3, warmup: 3}\n", encoding="utf-8")
    assert deeplight_main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'optim.warmup'" in err and "warmup_steps" in err


def test_missing_modality_names_the_clip(tmp_path, tiny_folder, monkeypatch):
    monkeypatch.setenv("DEEPLIGHT_HOME", str(tmp_path / "home"))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_folder, broken)
    victim = sorted((broken / "train").iterdir())[2]
    (victim / "dem.tif").unlink()
    cfg = load_config(_config_file(tmp_path, broken))
    with pytest.raises(RasterError, match=rf"{victim.name}.*missing dem.tif"):
        build_datasets(cfg)
    assert not (tmp_path / "run").exists()


def test_mismatched_sizes_name_the_clip(tmp_path, tiny_folder, monkeypatch):
    monkeypatch.setenv("DEEPLIGHT_HOME", str(tmp_path / "home"))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_folder, broken)
    victim = sorted((broken / "train").iterdir())[1]
    with rasterio.open(victim / "hr.tif") as src:
        profile = src.profile
        data = src.read()
    profile.update(width=profile["width"] // 2, height=profile["height"] // 2)
    profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
    with rasterio.open(victim / "hr.tif", "w", **profile) as dst:
        dst.write(np.ascontiguousarray(data[:, ::2, ::2]))
    cfg = load_config(_config_file(tmp_path, broken))
    with pytest.raises((RasterError, ValueError), match=victim.name):
        build_datasets(cfg)
