"""write_deeplightmd: layout, manifest, disjoint splits, resume after interruption."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deeplight.data.synth_writer as writer_module
from deeplight.data.synth_writer import clip_seed, write_deeplightmd
from deeplight.errors import ConfigError
from deeplight.io import open_scene, read_raster


def test_layout_manifest_and_georeferencing(tmp_path):
    manifest_path = write_deeplightmd(tmp_path / "md", n_train=3, n_val=1, n_test=1, lr_size=8, seed=3)
    manifest = json.loads(manifest_path.read_text())
    assert manifest["counts"] == {"train": 3, "val": 1, "test": 1}
    assert manifest["synthetic"] is True and manifest["simulated_lr"] is True
    assert len(manifest["clips"]) == 5 and manifest["hr_size"] == 64
    for entry in manifest["clips"]:
        folder = tmp_path / "md" / entry["split"] / entry["clip"]
        assert sorted(p.name for p in folder.glob("*.tif")) == sorted(
            f"{n}.tif" for n in ("lr", "hr", "dmo", "dem", "isp")
        )
        scene = open_scene(
            folder / "lr.tif",
            hr=folder / "hr.tif",
            dmo=folder / "dmo.tif",
            dem=folder / "dem.tif",
            isp=folder / "isp.tif",
        )  # checks the 8x grid
        assert scene.lr_simulated
        assert read_raster(folder / "hr.tif").attrs["synthetic"] == "true"
    assert not list((tmp_path / "md").glob(".*"))  # no leftovers


def test_splits_never_share_a_scene(tmp_path):
    manifest = json.loads(
        write_deeplightmd(tmp_path, n_train=4, n_val=2, n_test=2, lr_size=4, seed=0).read_text()
    )
    seeds = [c["seed"] for c in manifest["clips"]]
    assert len(set(seeds)) == len(seeds)
    origins = [tuple(c["hr_transform"][2::3][:2]) for c in manifest["clips"]]
    assert len(set(origins)) == len(origins)
    extent = 4 * 8 * 130.0
    xs = np.array([c["hr_transform"][2] for c in manifest["clips"]])
    ys = np.array([c["hr_transform"][5] for c in manifest["clips"]])
    for i in range(len(xs)):  # footprints do not overlap
        for j in range(i + 1, len(xs)):
            assert abs(xs[i] - xs[j]) >= extent or abs(ys[i] - ys[j]) >= extent
    assert clip_seed(0, "train", 0) != clip_seed(0, "val", 0) != clip_seed(0, "test", 0)
    with pytest.raises(ConfigError, match="unknown split"):
        clip_seed(0, "dev", 0)


def test_same_seed_same_data(tmp_path):
    write_deeplightmd(tmp_path / "a", n_train=1, n_val=0, n_test=0, lr_size=4, seed=9)
    write_deeplightmd(tmp_path / "b", n_train=1, n_val=0, n_test=0, lr_size=4, seed=9)
    a = read_raster(tmp_path / "a" / "train" / "train_00000" / "hr.tif").values
    b = read_raster(tmp_path / "b" / "train" / "train_00000" / "hr.tif").values
    np.testing.assert_array_equal(a, b)


def test_interrupted_run_resumes(tmp_path, monkeypatch):
    root = tmp_path / "md"
    real_write_clip = writer_module.write_clip
    calls = {"n": 0}

    def flaky(scene, folder, provenance):
        calls["n"] += 1
        if calls["n"] == 3:
            real_write_clip(scene, folder, provenance)  # the files are there...
            raise KeyboardInterrupt  # ...but the clip was never renamed into place
        return real_write_clip(scene, folder, provenance)

    monkeypatch.setattr(writer_module, "write_clip", flaky)
    with pytest.raises(KeyboardInterrupt):
        write_deeplightmd(root, n_train=4, n_val=1, n_test=0, lr_size=4, seed=1)
    assert not (root / "manifest.json").exists()
    assert sorted(p.name for p in (root / "train").iterdir() if not p.name.startswith(".")) == [
        "train_00000",
        "train_00001",
    ]
    monkeypatch.setattr(writer_module, "write_clip", real_write_clip)
    manifest = json.loads(
        write_deeplightmd(root, n_train=4, n_val=1, n_test=0, lr_size=4, seed=1).read_text()
    )
    assert [c["clip"] for c in manifest["clips"]] == [
        "train_00000",
        "train_00001",
        "train_00002",
        "train_00003",
        "val_00000",
    ]
    assert not list(root.rglob(".*partial"))
    fresh = json.loads(
        write_deeplightmd(tmp_path / "fresh", n_train=4, n_val=1, n_test=0, lr_size=4, seed=1).read_text()
    )
    assert [c["seed"] for c in fresh["clips"]] == [c["seed"] for c in manifest["clips"]]


def test_idempotent_and_refuses_other_settings(tmp_path):
    root = tmp_path / "md"
    path = write_deeplightmd(root, n_train=1, n_val=0, n_test=0, lr_size=4, seed=1)
    stamp = path.stat().st_mtime_ns
    assert write_deeplightmd(root, n_train=1, n_val=0, n_test=0, lr_size=4, seed=1) == path
    assert path.stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match="other settings"):
        write_deeplightmd(root, n_train=1, n_val=0, n_test=0, lr_size=4, seed=2)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("user data")
    with pytest.raises(ConfigError, match="is not empty"):
        write_deeplightmd(other, n_train=1, n_val=0, n_test=0, lr_size=4, seed=1)
    assert sorted(p.name for p in other.iterdir()) == ["keep.txt"]
    with pytest.raises(ConfigError, match="counts must be >= 0"):
        write_deeplightmd(tmp_path / "neg", n_train=-1, n_val=0, n_test=0)


def test_a_clip_with_a_corrupt_clip_json_is_made_again_and_a_corrupt_state_is_named(tmp_path, monkeypatch):
    from deeplight.errors import DeepLightError

    root = tmp_path / "md"
    real_write_clip = writer_module.write_clip
    calls = {"n": 0}

    def interrupt_second(scene, folder, provenance):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_write_clip(scene, folder, provenance)

    monkeypatch.setattr(writer_module, "write_clip", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        write_deeplightmd(root, n_train=2, n_val=0, n_test=0, lr_size=4, seed=3)
    monkeypatch.setattr(writer_module, "write_clip", real_write_clip)
    (root / "train" / "train_00000" / "clip.json").write_text("{corrupt")
    manifest = json.loads(write_deeplightmd(root, n_train=2, n_val=0, n_test=0, lr_size=4, seed=3).read_text())
    assert [c["clip"] for c in manifest["clips"]] == ["train_00000", "train_00001"]
    assert json.loads((root / "train" / "train_00000" / "clip.json").read_text())["clip"] == "train_00000"

    other = tmp_path / "other"
    monkeypatch.setattr(writer_module, "write_clip", interrupt_second)
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        write_deeplightmd(other, n_train=2, n_val=0, n_test=0, lr_size=4, seed=3)
    (other / ".synth_config.json").write_text("not json")
    monkeypatch.setattr(writer_module, "write_clip", real_write_clip)
    with pytest.raises(DeepLightError, match=r"\.synth_config\.json is not valid JSON"):
        write_deeplightmd(other, n_train=2, n_val=0, n_test=0, lr_size=4, seed=3)
