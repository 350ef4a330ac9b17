"""Torch datasets: DeepLightMD folders, windowed scene patches, in-memory clips."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from torch.utils.data import DataLoader

from deeplight.data.datasets import DeepLightMDDataset, InMemoryClipDataset, ScenePatchDataset
from deeplight.data.samples import collate_samples
from deeplight.data.synth_writer import write_deeplightmd
from deeplight.errors import RasterError
from deeplight.io import write_cog
from tests.io.rasters import LR_TRANSFORM, UTM50, tags


@pytest.fixture(scope="module")
def md_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("md")
    write_deeplightmd(root, n_train=3, n_val=1, n_test=1, lr_size=8, seed=0)
    return root


def test_whole_clips_follow_the_contract(md_root):
    dataset = DeepLightMDDataset(md_root, "train")
    assert len(dataset) == 3
    item = dataset[0]
    assert item["lr"].shape == (1, 8, 8) and item["hr"].shape == (1, 64, 64)
    assert item["dmo"].shape == (7, 64, 64) and item["present"].tolist() == [1, 1, 1, 1]
    assert item["valid"].min() == 1 and item["name"] == "train/train_00000"
    assert item["lr_simulated"] is True
    with rasterio.open(md_root / "train" / "train_00000" / "hr.tif") as src:
        assert Affine(*item["transform"]) == src.transform
        assert "UTM zone 50N" in item["crs"]
    assert dataset.manifest()["counts"]["train"] == 3


def test_patches_are_windows_of_the_clip(md_root):
    whole = DeepLightMDDataset(md_root, "train")[1]
    patched = DeepLightMDDataset(md_root, "train", patch_lr=4, seed=5)
    item = patched[1]
    assert item["lr"].shape == (1, 4, 4) and item["hr"].shape == (1, 32, 32)
    hr_tf = Affine(*item["transform"])
    clip_tf = Affine(*whole["transform"])
    col, row = ~clip_tf * (hr_tf.c, hr_tf.f)
    row, col = round(row), round(col)
    assert row % 8 == 0 and col % 8 == 0
    assert torch.equal(item["hr"], whole["hr"][:, row : row + 32, col : col + 32])
    assert torch.equal(item["lr"], whole["lr"][:, row // 8 : row // 8 + 4, col // 8 : col // 8 + 4])
    assert torch.equal(patched[1]["hr"], item["hr"])  # reproducible
    epoch0 = [patched[i]["transform"] for i in range(3)]
    patched.set_epoch(1)
    assert [patched[i]["transform"] for i in range(3)] != epoch0  # new patches each epoch


def test_augmented_batches_through_a_dataloader(md_root):
    dataset = DeepLightMDDataset(md_root, "train", patch_lr=4, augment=True, seed=1)
    batch = next(iter(DataLoader(dataset, batch_size=3, collate_fn=collate_samples)))
    assert batch["lr"].shape == (3, 1, 4, 4) and batch["hr"].shape == (3, 1, 32, 32)
    assert len(batch["augment"]) == 3 and len(batch["crs"]) == 3


def test_selected_modalities(md_root):
    item = DeepLightMDDataset(md_root, "val", modalities=("hr", "isp"))[0]
    assert item["present"].tolist() == [1, 0, 0, 1] and item["dmo"].abs().sum() == 0
    with pytest.raises(ValueError, match="unknown modalities"):
        DeepLightMDDataset(md_root, "val", modalities=("ndvi",))


def test_missing_split_file_and_size_errors(md_root, tmp_path):
    with pytest.raises(RasterError, match=r"dev: split folder not found"):
        DeepLightMDDataset(md_root, "dev")
    broken = tmp_path / "broken"
    shutil.copytree(md_root, broken)
    (broken / "test" / "test_00000" / "dem.tif").unlink()
    with pytest.raises(RasterError, match=r"test_00000: missing dem\.tif"):
        DeepLightMDDataset(broken, "test")
    assert DeepLightMDDataset(broken, "test", modalities=("hr", "dmo", "isp"))[0]["present"][2] == 0
    clip = broken / "val" / "val_00000"
    write_cog(
        np.ones((60, 64), "f4"),
        clip / "isp.tif",
        crs=UTM50,
        transform=LR_TRANSFORM @ Affine.scale(1 / 8),
        tags=tags("isp"),
    )
    with rasterio.open(clip / "lr.tif") as src:
        lr_tf = src.transform
    write_cog(
        np.ones((64, 64), "f4"),
        clip / "hr.tif",
        crs=UTM50,
        transform=lr_tf @ Affine.scale(1 / 8),
        tags=tags("hr"),
    )
    with pytest.raises(RasterError, match=r"val_00000.*isp is 60x64 pixels but the HR grid is 64x64"):
        DeepLightMDDataset(broken, "val")
    write_cog(
        np.ones((56, 64), "f4"),
        clip / "hr.tif",
        crs=UTM50,
        transform=lr_tf @ Affine.scale(1 / 8),
        tags=tags("hr"),
    )
    with pytest.raises(RasterError, match=r"LR/HR pair is not 8x: .*val_00000/lr\.tif"):
        DeepLightMDDataset(broken, "val")
    with pytest.raises(RasterError, match="exceeds the clip's LR size"):
        DeepLightMDDataset(md_root, "val", patch_lr=64)


@pytest.fixture(scope="module")
def scene_files(md_root):
    return {
        name: md_root / "train" / "train_00002" / f"{name}.tif" for name in ("lr", "hr", "dmo", "dem", "isp")
    }


def test_scene_patches_cover_the_scene_with_windowed_reads(scene_files, monkeypatch):
    dataset = ScenePatchDataset(
        scene_files["lr"], hr=scene_files["hr"], dem=scene_files["dem"], patch_lr=3, stride_lr=3
    )
    assert dataset.origins[-1] == (5, 5) and len(dataset) == 9  # last patch flush with the edge
    reads = []
    original = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):
        reads.append(kwargs.get("window"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    item = dataset[4]
    assert all(w is not None for w in reads)  # never a whole-raster read
    assert max(w.width for w in reads) == 24
    assert item["present"].tolist() == [1, 0, 1, 0] and item["hr"].shape == (1, 24, 24)
    whole = DeepLightMDDataset(scene_files["lr"].parents[1].parent, "train")[2]
    assert torch.equal(item["hr"], whole["hr"][:, 24:48, 24:48])


def test_scene_random_patches_and_checks(scene_files, tmp_path):
    dataset = ScenePatchDataset(
        scene_files["lr"], hr=scene_files["hr"], patch_lr=4, n_random=5, augment=True, seed=3
    )
    assert len(dataset) == 5 and dataset[0]["lr"].shape == (1, 4, 4)
    with pytest.raises(RasterError, match="does not fit"):
        ScenePatchDataset(scene_files["lr"], patch_lr=9)
    with pytest.raises(RasterError, match="dmo has 1 band"):
        ScenePatchDataset(scene_files["lr"], dmo=scene_files["dem"], patch_lr=4)
    with pytest.raises(RasterError, match="LR/HR pair is not 8x"):
        ScenePatchDataset(scene_files["lr"], hr=scene_files["lr"], patch_lr=4)


def test_in_memory_dataset(md_root):
    dataset = InMemoryClipDataset.from_folder(md_root, "train", patch_lr=4, augment=True, seed=0)
    assert len(dataset) == 3 and dataset[0]["hr"].shape == (1, 32, 32)
    generated = InMemoryClipDataset.from_synthetic(2, 8, seed=0, split="train")
    from_disk = InMemoryClipDataset.from_folder(md_root, "train")
    assert torch.equal(generated[1]["hr"], from_disk[1]["hr"])  # same seeds as the writer
    batch = collate_samples([generated[0], generated[1]])
    assert batch["dmo"].shape == (2, 7, 64, 64)
    with pytest.raises(ValueError, match="patch_lr=9"):
        InMemoryClipDataset.from_folder(md_root, "val", patch_lr=9)


def test_published_deeplightmd_clip_shapes(tmp_path):
    """LR 256x256 with HR-grid layers 2048x2048 (DeepLightMD): patches are read by windows."""
    clip = tmp_path / "md" / "test" / "clip_0001"
    lr_tf = Affine(1040.0, 0, 300_000.0, 0, -1040.0, 3_300_000.0)
    hr_tf = lr_tf @ Affine.scale(1 / 8)
    rows = np.arange(2048, dtype="f4")[:, None] * np.ones((1, 2048), "f4")
    write_cog(
        np.full((256, 256), 12.0, "f4"),
        clip / "lr.tif",
        crs=UTM50,
        transform=lr_tf,
        tags=tags("lr", simulated=True),
    )
    write_cog(rows / 100.0, clip / "hr.tif", crs=UTM50, transform=hr_tf, tags=tags("hr"))
    write_cog(
        np.full((2048, 2048), 0.5, "f4"), clip / "isp.tif", crs=UTM50, transform=hr_tf, tags=tags("isp")
    )
    dataset = DeepLightMDDataset(tmp_path / "md", "test", patch_lr=16, modalities=("hr", "isp"))
    item = dataset[0]
    assert item["lr"].shape == (1, 16, 16) and item["hr"].shape == (1, 128, 128)
    top_row = (Affine(*item["transform"]).f - hr_tf.f) / hr_tf.e
    expected = torch.log1p(torch.tensor(top_row / 100.0)) / np.log1p(1000.0)
    assert item["hr"][0, 0, 0].item() == pytest.approx(expected.item(), rel=1e-5)
    assert item["present"].tolist() == [1, 0, 0, 1]
