"""Torch datasets of co-registered multi-modal patches (samples per docs/CONTRACTS.md).

* :class:`DeepLightMDDataset` - clips of a DeepLightMD-layout folder, optionally cut into random
  patches, read by windows (only the patch's pixels are read, through
  :func:`deeplight.io.raster.read_window`, the package's one window reader: float32, NaN for nodata).
* :class:`ScenePatchDataset` - patches of one large scene (GeoTIFFs on a common LR/HR grid) read
  by windows, on a regular grid or at random positions; whole rasters are never loaded.
* :class:`InMemoryClipDataset` - normalised tensors already in memory (loaded from a folder or
  generated on the fly), the fastest for small training runs on a CPU.

All apply the same random dihedral augmentation (rot90 x flip) to LR and HR grids. Randomness is
drawn from ``numpy.random.default_rng((seed, epoch, index))``: reproducible, different per epoch
(call ``set_epoch``) and safe with DataLoader worker processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window
from torch.utils.data import Dataset

from deeplight.contracts import PRESENT_ORDER, SCALE, tag_is_true
from deeplight.utils_io import read_json
from deeplight.data.samples import augment_sample, draw_augmentation, make_sample
from deeplight.errors import RasterError
from deeplight.io.raster import raster_grid, read_window
from deeplight.io.scene import check_lr_hr_grids

PathLike = str | os.PathLike[str]
AUX_MODALITIES: tuple[str, ...] = PRESENT_ORDER
EXPECTED_BANDS = {"lr": 1, "hr": 1, "dmo": 7, "dem": 1, "isp": 1}


def _window_sample(
    lr_path: Path,
    hr_paths: dict[str, Path],
    lr_grid: dict,
    origin: tuple[int, int],
    patch_lr: int | None,
    name: str,
    rng: np.random.Generator | None,
) -> dict[str, Any]:
    """The sample of the LR window at ``origin`` (row, col) of size ``patch_lr`` (None: whole rasters)
    and the matching HR windows of ``hr_paths``; augmented with ``rng`` when given."""
    row, col = origin
    if patch_lr:
        lr_window = Window(col, row, patch_lr, patch_lr)
        hr_window = Window(col * SCALE, row * SCALE, patch_lr * SCALE, patch_lr * SCALE)
    else:
        lr_window = hr_window = None
    lr = read_window(lr_path, lr_window)[0]
    arrays = {modality: read_window(path, hr_window) for modality, path in hr_paths.items()}
    hr_transform = (
        lr_grid["transform"] @ Affine.scale(1 / SCALE) @ Affine.translation(col * SCALE, row * SCALE)
    )
    sample = make_sample(
        lr,
        hr_radiance=arrays.get("hr"),
        dmo=arrays.get("dmo"),
        dem_m=arrays.get("dem"),
        isp=arrays.get("isp"),
        extras={
            "crs": lr_grid["crs"],
            "transform": tuple(hr_transform)[:6],
            "name": name,
            "lr_simulated": tag_is_true(lr_grid["tags"]),
        },
    )
    if rng is not None:
        sample = augment_sample(sample, *draw_augmentation(rng))
    return sample


def _same_crs(a: str | None, b: str | None) -> bool:
    """Whether two WKT strings (or None) describe the same CRS."""
    if a is None or b is None:
        return a is b
    return a == b or CRS.from_wkt(a) == CRS.from_wkt(b)


def _check_aux_grid(path: Path, name: str, hr_grid: dict, grid: dict, where: str) -> None:
    if grid["count"] != EXPECTED_BANDS[name]:
        raise RasterError(
            f"{path}: {name} has {grid['count']} band(s), needs {EXPECTED_BANDS[name]} ({where})"
        )
    same = (grid["width"], grid["height"]) == (hr_grid["width"], hr_grid["height"])
    if not same:
        raise RasterError(
            f"{path}: {name} is {grid['height']}x{grid['width']} pixels but the HR grid is "
            f"{hr_grid['height']}x{hr_grid['width']} ({where}); all HR-grid layers must match"
        )
    if not grid["transform"].almost_equals(
        hr_grid["transform"], precision=1e-6 * abs(hr_grid["transform"].a)
    ) or not _same_crs(grid["crs"], hr_grid["crs"]):
        raise RasterError(
            f"{path}: {name} is not on the HR grid (transform/CRS differ) ({where}); "
            "warp it with deeplight.io.reproject_to or `deeplight data degrade`"
        )


class _Epoch:
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the random patches/augmentations drawn (call once per training epoch)."""
        self.epoch = int(epoch)


class DeepLightMDDataset(Dataset, _Epoch):
    """Clips of a DeepLightMD-layout folder: ``<root>/<split>/<clip>/{lr,hr,dmo,dem,isp}.tif``.

    Args:
        root: dataset folder (with ``manifest.json`` or just the split folders).
        split: ``train``, ``val`` or ``test`` (any sub-folder name works).
        patch_lr: LR size of a random square patch cut from each clip (None: whole clip).
        augment: random rot90/flip, identical on all grids.
        seed: seed of patch positions and augmentations.
        modalities: HR-grid layers to load among ``hr, dmo, dem, isp``; the others are zeros
            with ``present`` 0. Every clip must have every file listed here.

    Raises:
        RasterError: the split folder is missing or empty, a clip lacks a file, or its grids do
            not match (LR x 8 = HR, aux layers on the HR grid); the message names the folder.
            The first clip is checked at construction, every other one when first read.
    """

    def __init__(
        self,
        root: PathLike,
        split: str,
        *,
        patch_lr: int | None = None,
        augment: bool = False,
        seed: int = 0,
        modalities: Sequence[str] = AUX_MODALITIES,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.patch_lr = patch_lr
        self.augment = augment
        self.seed = int(seed)
        unknown = set(modalities) - set(AUX_MODALITIES)
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)}; choose among {AUX_MODALITIES}")
        self.modalities = tuple(m for m in AUX_MODALITIES if m in modalities)
        folder = self.root / split
        if not folder.is_dir():
            raise RasterError(
                f"{folder}: split folder not found; expected the DeepLightMD layout "
                "<root>/<split>/<clip>/{lr,hr,dmo,dem,isp}.tif (make one with "
                "`deeplight data synth`)"
            )
        self.clips = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not self.clips:
            raise RasterError(f"{folder}: holds no clip folder")
        if patch_lr is not None and patch_lr < 1:
            raise ValueError(f"patch_lr must be >= 1, got {patch_lr}")
        self._grids: dict[int, dict[str, dict]] = {}
        self._grid(0)

    def __len__(self) -> int:
        return len(self.clips)

    def _grid(self, index: int) -> dict[str, dict]:
        if index in self._grids:
            return self._grids[index]
        folder = self.clips[index]
        grids = {}
        for name in ("lr", *self.modalities):
            path = folder / f"{name}.tif"
            if not path.is_file():
                raise RasterError(
                    f"{folder}: missing {name}.tif (modality {name}); every clip needs "
                    f"{['lr', *self.modalities]} - pass modalities=... to load fewer"
                )
            grids[name] = raster_grid(path)
        lr = grids["lr"]
        if lr["count"] != 1:
            raise RasterError(f"{folder}/lr.tif: has {lr['count']} bands, needs 1")
        if "hr" in grids:
            hr = grids["hr"]
            check_lr_hr_grids(
                lr["crs"],
                lr["transform"],
                (lr["height"], lr["width"]),
                hr["crs"],
                hr["transform"],
                (hr["height"], hr["width"]),
                lr_name=f"{folder}/lr.tif",
                hr_name=f"{folder}/hr.tif",
            )
            reference = hr
        else:
            reference = {
                "width": lr["width"] * SCALE,
                "height": lr["height"] * SCALE,
                "transform": lr["transform"] @ Affine.scale(1 / SCALE),
                "crs": lr["crs"],
            }
        for name in self.modalities:
            if name != "hr":
                _check_aux_grid(folder / f"{name}.tif", name, reference, grids[name], str(folder))
        if self.patch_lr and (self.patch_lr > lr["height"] or self.patch_lr > lr["width"]):
            raise RasterError(
                f"{folder}: patch_lr={self.patch_lr} exceeds the clip's LR size {lr['height']}x{lr['width']}"
            )
        self._grids[index] = grids
        return grids

    def __getitem__(self, index: int) -> dict[str, Any]:
        grids = self._grid(index)
        folder = self.clips[index]
        lr_grid = grids["lr"]
        rng = np.random.default_rng((self.seed, self.epoch, index))
        if self.patch_lr:
            row = int(rng.integers(0, lr_grid["height"] - self.patch_lr + 1))
            col = int(rng.integers(0, lr_grid["width"] - self.patch_lr + 1))
        else:
            row = col = 0
        return _window_sample(
            folder / "lr.tif",
            {name: folder / f"{name}.tif" for name in self.modalities},
            lr_grid,
            (row, col),
            self.patch_lr,
            f"{self.split}/{folder.name}",
            rng if self.augment else None,
        )

    def manifest(self) -> dict:
        """The dataset's ``manifest.json`` (empty dict when absent)."""
        path = self.root / "manifest.json"
        return read_json(path) if path.exists() else {}


class ScenePatchDataset(Dataset, _Epoch):
    """Patches of one large scene read by windows (never the whole raster).

    Args:
        lr: LR raster (DN). ``hr``, ``dmo``, ``dem``, ``isp``: optional rasters on the HR grid
            (8x finer, same corners; check with :func:`deeplight.io.check_lr_hr_grids`).
        patch_lr: LR patch size.
        stride_lr: step of the regular grid of patches (default ``patch_lr``); the last row and
            column are moved flush with the edge, so the grid covers the whole scene.
        n_random: when set, the dataset has this many items, each a random window.
        augment: random rot90/flip.
        seed: seed of positions and augmentations.
        min_valid_fraction: drop grid patches whose LR has fewer valid pixels than this share
            (reads the LR raster once; it is 64x smaller than the HR).

    Raises:
        RasterError: unreadable files, grids that do not match, or a patch larger than the scene.
    """

    def __init__(
        self,
        lr: PathLike,
        *,
        hr: PathLike | None = None,
        dmo: PathLike | None = None,
        dem: PathLike | None = None,
        isp: PathLike | None = None,
        patch_lr: int = 32,
        stride_lr: int | None = None,
        n_random: int | None = None,
        augment: bool = False,
        seed: int = 0,
        min_valid_fraction: float = 0.0,
    ) -> None:
        self.paths = {"lr": Path(lr)}
        for name, path in (("hr", hr), ("dmo", dmo), ("dem", dem), ("isp", isp)):
            if path is not None:
                self.paths[name] = Path(path)
        self.patch_lr = int(patch_lr)
        self.augment = augment
        self.seed = int(seed)
        self.n_random = n_random
        grids = {name: raster_grid(path) for name, path in self.paths.items()}
        lr_grid = grids["lr"]
        self.lr_grid = lr_grid
        if lr_grid["crs"] is None:
            raise RasterError(f"{self.paths['lr']}: has no CRS")
        height, width = lr_grid["height"], lr_grid["width"]
        if self.patch_lr < 1 or self.patch_lr > min(height, width):
            raise RasterError(
                f"{self.paths['lr']}: patch_lr={patch_lr} does not fit the scene's LR size {height}x{width}"
            )
        reference = {
            "width": width * SCALE,
            "height": height * SCALE,
            "transform": lr_grid["transform"] @ Affine.scale(1 / SCALE),
            "crs": lr_grid["crs"],
        }
        if "hr" in grids:
            hr = grids["hr"]
            check_lr_hr_grids(
                lr_grid["crs"],
                lr_grid["transform"],
                (height, width),
                hr["crs"],
                hr["transform"],
                (hr["height"], hr["width"]),
                lr_name=str(self.paths["lr"]),
                hr_name=str(self.paths["hr"]),
            )
        for name in ("dmo", "dem", "isp"):
            if name in grids:
                _check_aux_grid(self.paths[name], name, reference, grids[name], "scene")
        stride = int(stride_lr or self.patch_lr)
        rows = list(range(0, height - self.patch_lr + 1, stride))
        cols = list(range(0, width - self.patch_lr + 1, stride))
        if rows[-1] != height - self.patch_lr:
            rows.append(height - self.patch_lr)
        if cols[-1] != width - self.patch_lr:
            cols.append(width - self.patch_lr)
        origins = [(r, c) for r in rows for c in cols]
        if min_valid_fraction > 0 and n_random is None:
            lr_values = read_window(self.paths["lr"], None)[0]
            p = self.patch_lr
            origins = [
                (r, c)
                for r, c in origins
                if np.isfinite(lr_values[r : r + p, c : c + p]).mean() >= min_valid_fraction
            ]
        self.origins = origins

    def __len__(self) -> int:
        return int(self.n_random) if self.n_random is not None else len(self.origins)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        p = self.patch_lr
        if self.n_random is not None:
            row = int(rng.integers(0, self.lr_grid["height"] - p + 1))
            col = int(rng.integers(0, self.lr_grid["width"] - p + 1))
        else:
            row, col = self.origins[index]
        return _window_sample(
            self.paths["lr"],
            {name: path for name, path in self.paths.items() if name != "lr"},
            self.lr_grid,
            (row, col),
            p,
            f"patch_r{row}_c{col}",
            rng if self.augment else None,
        )


class InMemoryClipDataset(Dataset, _Epoch):
    """Normalised samples held in memory (stacked tensors), with random patches and augmentation.

    Args:
        samples: unbatched samples of one LR size (e.g. from :func:`make_sample`).
        patch_lr: random square LR patch per item (None: whole clip).
        augment: random rot90/flip.
        seed: seed of patches and augmentations.
    """

    def __init__(
        self,
        samples: Sequence[dict[str, Any]],
        *,
        patch_lr: int | None = None,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        if not samples:
            raise ValueError("InMemoryClipDataset needs at least one sample")
        self.tensors = {
            key: torch.stack([s[key] for s in samples])
            for key in ("lr", "hr", "dmo", "dem", "isp", "present", "valid")
        }
        self.extras = [{k: v for k, v in s.items() if not isinstance(v, torch.Tensor)} for s in samples]
        size = self.tensors["lr"].shape[-1]
        if patch_lr is not None and not 1 <= patch_lr <= min(self.tensors["lr"].shape[-2:]):
            raise ValueError(f"patch_lr={patch_lr} must be within 1..{size}")
        self.patch_lr = patch_lr
        self.augment = augment
        self.seed = int(seed)

    @classmethod
    def from_folder(cls, root: PathLike, split: str, **kwargs: Any) -> InMemoryClipDataset:
        """Load every clip of a DeepLightMD-layout split (whole clips) into memory."""
        modalities = kwargs.pop("modalities", AUX_MODALITIES)
        folder_ds = DeepLightMDDataset(root, split, modalities=modalities)
        return cls([folder_ds[i] for i in range(len(folder_ds))], **kwargs)

    @classmethod
    def from_synthetic(
        cls, n: int, lr_size: int, seed: int, split: str = "train", config=None, **kwargs: Any
    ) -> InMemoryClipDataset:
        """Generate ``n`` synthetic clips in memory (same seeds as ``deeplight data synth``)."""
        from deeplight.data.synth import generate_scene
        from deeplight.data.synth_writer import clip_seed

        samples = []
        for index in range(n):
            scene = generate_scene(lr_size, clip_seed(seed, split, index), config)
            samples.append(
                make_sample(
                    scene.lr,
                    hr_radiance=scene.hr,
                    dmo=scene.dmo,
                    dem_m=scene.dem,
                    isp=scene.isp,
                    extras={
                        "crs": scene.crs,
                        "name": f"{split}_{index:05d}",
                        "transform": tuple(scene.hr_transform)[:6],
                        "lr_simulated": True,
                    },
                )
            )
        return cls(samples, **kwargs)

    def __len__(self) -> int:
        return int(self.tensors["lr"].shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        sample = {key: value[index] for key, value in self.tensors.items()}
        if self.patch_lr:
            p = self.patch_lr
            h, w = sample["lr"].shape[-2:]
            row = int(rng.integers(0, h - p + 1))
            col = int(rng.integers(0, w - p + 1))
            for key in ("lr",):
                sample[key] = sample[key][..., row : row + p, col : col + p]
            r8, c8, p8 = row * SCALE, col * SCALE, p * SCALE
            for key in ("hr", "dmo", "dem", "isp", "valid"):
                sample[key] = sample[key][..., r8 : r8 + p8, c8 : c8 + p8]
        sample = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in sample.items()}
        sample.update(self.extras[index])
        if self.augment:
            sample = augment_sample(sample, *draw_augmentation(rng))
        return sample
