"""Training with real night-light tiles: config fields, mixing with synthetic clips, real-val validation.

All data are made by code: a tiny synthetic DeepLightMD folder (LR 8 -> HR 64) and a tiny places
corpus of GeoTIFFs (``tests/data/test_real_corpus.write_corpus``) under ``tmp_path``.
"""

from __future__ import annotations

import json
import math

import pytest

from deeplight.data.real_corpus import MixedDataset, RealCorpusDataset
from deeplight.data.synth_writer import write_deeplightmd
from deeplight.errors import ConfigError
from deeplight.train.config import DataConfig, config_from_dict
from deeplight.train.distributed import DistContext
from deeplight.train.preloaded import PreloadedClips
from deeplight.train.trainer import Trainer, build_datasets
from tests.data.test_real_corpus import write_corpus

CPU = DistContext()


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """``(synthetic_root, data_dir, places_yaml)``: 8/4 clips of LR 8 and a 10-place corpus."""
    base = tmp_path_factory.mktemp("realmix")
    root = base / "synth"
    write_deeplightmd(root, n_train=8, n_val=4, n_test=0, lr_size=8, seed=3)
    data_dir, places = write_corpus(base)
    return root, data_dir, places


@pytest.fixture
def env(sources, tmp_path, monkeypatch):
    root, data_dir, places = sources
    monkeypatch.setenv("DEEPLIGHT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DEEPLIGHT_HOME", str(tmp_path / "home"))
    return sources


def _config(tmp_path, root, places, **data):
    values = {
        "model": {"name": "deeplightsr", "kwargs": {"preset": "tiny"}},
        "data": {"root": str(root), "batch_size": 4, "drop_dmo": 0.3, "drop_dem": 0.3, "real_places": str(places),
                 "real_hr_size": 64, **data},
        "optim": {"lr": 3e-3, "warmup_steps": 1},
        "train": {"steps": 4, "val_every": 2, "log_every": 2, "ckpt_every": 2, "seed": 0,
                  "out_dir": str(tmp_path / "run"), "device": "cpu", "threads": 1},
    }
    return config_from_dict(values)


def test_defaults_are_off_and_fields_are_validated():
    d = DataConfig()
    assert (d.real_places, d.real_fraction, d.real_hr_size, d.val_source) == ("", 0.0, 128, "synthetic")
    cases = [
        ({"real_fraction": 1.5, "real_places": "p.yaml"}, r"data.real_fraction must be a share in \[0, 1\]"),
        ({"val_source": "real-test", "real_places": "p.yaml"}, r"data.val_source must be one of: synthetic, real-val"),
        ({"real_hr_size": 100}, r"data.real_hr_size must be a multiple of 8"),
        ({"real_fraction": 0.5}, r"need data.real_places"),
        ({"val_source": "real-val"}, r"need data.real_places"),
        ({"real_fration": 0.5}, r"unknown config key 'data.real_fration'.*real_fraction"),
    ]
    for data, match in cases:
        with pytest.raises(ConfigError, match=match):
            config_from_dict({"data": data})


def test_short_run_mixes_real_tiles_and_validates_on_real_val(env, tmp_path):
    root, _, places = env
    cfg = _config(tmp_path, root, places, real_fraction=0.5, val_source="real-val")
    train, val = build_datasets(cfg)
    assert isinstance(train, MixedDataset) and isinstance(train.synthetic, PreloadedClips)
    assert isinstance(val, RealCorpusDataset) and val.split == "real-val" and not val.randomize
    assert len(train) == 8 and {train.source(i)[0] for i in range(8)} == {"real", "synthetic"}
    result = Trainer(cfg, train, val, ctx=CPU, show_progress=False).fit()
    rows = [r for r in result.history if r["kind"] == "val"]
    assert [r["step"] for r in rows] == [2, 4] and all(math.isfinite(r["val_psnr"]) for r in rows)
    meta = json.loads((tmp_path / "run" / "best.json").read_text())
    assert "mixed training data: 50% synthetic" in meta["data"] and "50% real" in meta["data"]
    assert "DeepLightMD-layout folder" in meta["data"] and "split train" in meta["data"]
    assert "validation (best checkpoint): real-val places real-val-0" in meta["data"]
    assert meta["config"]["data"]["val_source"] == "real-val"


def test_real_only_training_does_not_read_the_synthetic_folder(env, tmp_path):
    _, _, places = env
    cfg = _config(tmp_path, tmp_path / "no-such-folder", places, real_fraction=1.0, val_source="real-val")
    train, val = build_datasets(cfg)
    assert isinstance(train, RealCorpusDataset) and train.randomize and train.augment
    assert train.description.startswith("real night-light tiles, split train")
    assert "validation (best checkpoint): real-val" in train.description


def test_synthetic_validation_and_hr_size_mismatch(env, tmp_path):
    root, _, places = env
    train, val = build_datasets(_config(tmp_path, root, places, real_fraction=0.25))
    assert isinstance(train, MixedDataset) and isinstance(val, PreloadedClips)
    assert "validation (best checkpoint): synthetic split val" in train.description
    with pytest.raises(ConfigError, match=r"data.real_hr_size: synthetic clips have HR 64x64 px but the real tiles 32x32"):
        build_datasets(_config(tmp_path, root, places, real_fraction=0.5, real_hr_size=32))
