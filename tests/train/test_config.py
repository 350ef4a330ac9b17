"""Typed YAML config: defaults, unknown keys and wrong types rejected with the field name."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeplight.errors import ConfigError
from deeplight.train.config import TrainConfig, load_config, parse_override

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_full_config_types(tmp_path):
    cfg = load_config(_write(tmp_path, """
model: {name: deeplightsr, kwargs: {preset: tiny}}
data: {root: /x, batch_size: 4, drop_dmo: 0.5}
optim: {lr: 1.0e-3, betas: [0.8, 0.9], warmup_steps: 3}
train: {steps: 20, val_every: 5, seed: 3, amp: false}
"""))
    assert isinstance(cfg, TrainConfig)
    assert cfg.model.kwargs == {"preset": "tiny"}
    assert cfg.optim.betas == (0.8, 0.9)
    assert cfg.data.drop_dmo == 0.5 and cfg.data.drop_dem == 0.2  # default kept
    assert cfg.train.amp is False
    assert cfg.to_dict()["optim"]["betas"] == [0.8, 0.9]


def test_unknown_key_names_key_and_valid_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'optim.learning_rate'.*valid keys.*lr, weight_decay"):
        load_config(_write(tmp_path, "optim: {learning_rate: 0.1}\n"))
    with pytest.raises(ConfigError, match=r"unknown config key 'trian'.*model, data, loss, optim, train"):
        load_config(_write(tmp_path, "trian: {steps: 3}\n"))


def test_wrong_types_and_ranges_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match="train.steps' must be an integer"):
        load_config(_write(tmp_path, "train: {steps: many}\n"))
    with pytest.raises(ConfigError, match="data.drop_dmo must be a probability"):
        load_config(_write(tmp_path, "data: {drop_dmo: 1.5}\n"))
    with pytest.raises(ConfigError, match="train.device must be one of"):
        load_config(_write(tmp_path, "train: {device: tpu}\n"))
    with pytest.raises(ConfigError, match="optim.betas' must be a list of 2"):
        load_config(_write(tmp_path, "optim: {betas: [0.9]}\n"))
    for text, message in (
        ("data: {max_val_batches: -1}\n", "data.max_val_batches must be >= 0"),
        ("optim: {weight_decay: -0.1}\n", "optim.weight_decay must be >= 0"),
        ("optim: {betas: [0.9, 1.0]}\n", r"optim.betas must both be in \[0, 1\)"),
        ("train: {threads: -2}\n", "train.threads must be >= 0"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(_write(tmp_path, text))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "model: [unclosed\n"))
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_overrides(tmp_path):
    key, value = parse_override("train.steps=7")
    cfg = load_config(_write(tmp_path, "train: {steps: 3}\n"), {key: value, "model.kwargs": {"preset": "tiny"}})
    assert cfg.train.steps == 7 and cfg.model.kwargs == {"preset": "tiny"}
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("train.steps")


def test_committed_configs_parse():
    # every training config; real_places.yaml is the places file of the real corpus (its own loader
    # and tests in tests/data/test_real_corpus.py)
    paths = sorted(p for p in (REPO / "configs").glob("*.yaml") if p.name != "real_places.yaml")
    assert len(paths) >= 4, "configs/ holds the committed YAML configs"
    for path in paths:
        load_config(path)
