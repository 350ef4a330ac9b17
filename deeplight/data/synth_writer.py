"""Writing synthetic scenes in the DeepLightMD folder layout, resumably.

Layout::

    <root>/manifest.json
    <root>/<split>/<clip>/lr.tif   simulated DMSP-like DN, LR grid (tag simulated=true)
    <root>/<split>/<clip>/hr.tif   radiance nW/cm2/sr, HR grid (8x finer, same corners)
    <root>/<split>/<clip>/dmo.tif  7-band Landsat-8-like surface reflectance, HR grid
    <root>/<split>/<clip>/dem.tif  elevation m, HR grid
    <root>/<split>/<clip>/isp.tif  impervious fraction, HR grid

Each clip is its own generated scene with its own seed, and clips are placed side by side without
overlap, so the train/val/test splits never share a scene (nor any ground). A clip is written into a
hidden temporary folder and renamed when complete; an interrupted run resumes where it stopped and
the manifest is written last (atomically).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
from affine import Affine

from deeplight import __version__
from deeplight.data.synth import SYNTH_CRS, SynthConfig, generate_scene, place_grid
from deeplight.errors import ConfigError
from deeplight.io.cog import write_cog
from deeplight.io.modalities import DMO_BAND_NAMES, MODALITIES
from deeplight.io.scene import lr_transform_from_hr
from deeplight.utils_io import atomic_write_text, read_json

SPLITS: tuple[str, ...] = ("train", "val", "test")
CLIP_FILES: tuple[str, ...] = ("lr", "hr", "dmo", "dem", "isp")
LAYOUT_VERSION = 1


def clip_seed(seed: int, split: str, index: int) -> int:
    """Seed of one clip, derived from the dataset seed, the split and the clip index.

    Distinct splits draw from distinct ``SeedSequence`` branches, so no scene is shared.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {SPLITS}")
    sequence = np.random.SeedSequence([int(seed), SPLITS.index(split), int(index)])
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


def write_scene_rasters(
    scene, folder: Path, common_tags: dict[str, str], names: tuple[str, ...] = CLIP_FILES
) -> tuple[Affine, Affine]:
    """Write a generated scene's rasters as COGs ``folder/<name>.tif``; returns (LR, HR) transforms.

    ``lr`` (when in ``names``) goes on the LR grid with the degradation's tags (``simulated=true``);
    every other name is a scene attribute on the HR grid, tagged ``simulated=false``. ``common_tags``
    (provenance, ...) are added to every file.
    """
    hr_tf = scene.hr_transform
    lr_tf = lr_transform_from_hr(hr_tf, scene.degradation.params.scale)
    for name in names:
        if name == "lr":
            transform, tags = lr_tf, {**common_tags, **scene.degradation.to_tags()}
        else:
            transform, tags = hr_tf, {"simulated": "false", **common_tags}
        write_cog(
            getattr(scene, name),
            folder / f"{name}.tif",
            crs=scene.crs,
            transform=transform,
            tags={"units": MODALITIES[name].units, "modality": name, **tags},
            band_descriptions=DMO_BAND_NAMES if name == "dmo" else None,
        )
    return lr_tf, hr_tf


def write_clip(scene, folder: Path, provenance: str) -> dict:
    """Write one scene's five rasters into ``folder`` (created); returns its manifest entry."""
    folder.mkdir(parents=True, exist_ok=True)
    lr_tf, hr_tf = write_scene_rasters(scene, folder, {"provenance": provenance, "synthetic": "true"})
    return {
        "seed": scene.seed,
        "lr_transform": list(tuple(lr_tf)[:6]),
        "hr_transform": list(tuple(hr_tf)[:6]),
        "settlements": len(scene.settlements),
        "largest_population": max((p for *_, p in scene.settlements), default=0.0),
        "hr_mean_radiance": float(np.mean(scene.hr)),
        "hr_max_radiance": float(np.max(scene.hr)),
        "lr_saturated_fraction": scene.degradation.saturated_fraction,
        "gain_drift": scene.degradation.gain_drift,
    }


def _config_record(counts: dict[str, int], lr_size: int, seed: int, config: SynthConfig) -> dict:
    return {
        "format": "DeepLightMD-synthetic",
        "layout_version": LAYOUT_VERSION,
        "deeplight_version": __version__,
        "seed": int(seed),
        "lr_size": int(lr_size),
        "hr_size": int(lr_size * config.degradation.scale),
        "scale": config.degradation.scale,
        "counts": counts,
        "crs": SYNTH_CRS,
        "hr_pixel_size_m": config.pixel_size_m,
        "lr_pixel_size_m": config.pixel_size_m * config.degradation.scale,
        "config": json.loads(json.dumps(asdict(config))),
    }


def _read_clip_entry(path: Path) -> dict | None:
    """A finished clip's ``clip.json``, or None when it is missing or unreadable (the clip is redone)."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return entry if isinstance(entry, dict) else None


def write_deeplightmd(
    root: str | os.PathLike[str],
    *,
    n_train: int,
    n_val: int,
    n_test: int,
    lr_size: int = 32,
    seed: int = 0,
    config: SynthConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Generate a synthetic DeepLightMD-style dataset under ``root`` (resumable, idempotent).

    Args:
        root: output folder (created).
        n_train, n_val, n_test: clips per split (>= 0).
        lr_size: LR clip size in pixels (HR is 8x; DeepLightMD uses 256).
        seed: dataset seed.
        config: generator settings.
        progress: optional callback ``(done, total)``.

    Returns:
        Path of the written ``manifest.json``.

    Raises:
        ConfigError: negative counts, bad size, or ``root`` already holds a dataset made with
            other settings (nothing is changed then).
    """
    config = config or SynthConfig()
    counts = {"train": int(n_train), "val": int(n_val), "test": int(n_test)}
    if any(v < 0 for v in counts.values()):
        raise ConfigError(f"clip counts must be >= 0, got {counts}")
    if lr_size < 1:
        raise ConfigError(f"--lr-size must be >= 1, got {lr_size}")
    root = Path(root)
    record = _config_record(counts, lr_size, seed, config)
    manifest_path = root / "manifest.json"
    state_path = root / ".synth_config.json"
    if manifest_path.exists():
        try:
            existing = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            existing = None
        if existing is not None and {k: existing.get(k) for k in record} == record:
            return manifest_path  # already complete
        raise ConfigError(
            f"{root}: holds a dataset made with other settings (see its manifest.json);"
            " choose another --out folder or remove it"
        )
    if state_path.exists():
        if read_json(state_path) != record:
            raise ConfigError(
                f"{root}: holds an unfinished dataset made with other settings; choose "
                "another --out folder or remove it"
            )
    elif root.exists() and any(root.iterdir()):
        raise ConfigError(
            f"{root}: is not empty and holds no DeepLightMD synth run; choose an empty or new --out folder"
        )
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(state_path, json.dumps(record, indent=2))
    total = sum(counts.values())
    shape_hr = (lr_size * config.degradation.scale,) * 2
    clips = []
    done = 0
    placement = 0
    for split in SPLITS:
        for index in range(counts[split]):
            name = f"{split}_{index:05d}"
            folder = root / split / name
            seed_i = clip_seed(seed, split, index)
            hr_tf = place_grid(placement, shape_hr, config.pixel_size_m)
            placement += 1
            entry_path = folder / "clip.json"
            entry = _read_clip_entry(entry_path) if folder.is_dir() else None
            if entry is None:  # missing, or without a readable clip.json: (re)make the clip
                tmp = root / split / f".{name}.partial"
                if tmp.exists():
                    shutil.rmtree(tmp)
                scene = generate_scene(lr_size, seed_i, config, hr_transform=hr_tf)
                entry = write_clip(
                    scene, tmp, f"deeplight {__version__} synthetic DeepLightMD clip, seed {seed_i}"
                )
                entry.update(split=split, clip=name, scene_id=f"{split}/{name}")
                (tmp / "clip.json").write_text(json.dumps(entry, indent=2))
                if folder.exists():  # an incomplete or unreadable folder from an older run
                    shutil.rmtree(folder)
                os.replace(tmp, folder)
            clips.append(entry)
            done += 1
            if progress:
                progress(done, total)
    manifest = {
        **record,
        "synthetic": True,
        "simulated_lr": True,
        "layout": "<root>/<split>/<clip>/{lr,hr,dmo,dem,isp}.tif",
        "files": {name: MODALITIES[name].description + f" [{MODALITIES[name].units}]" for name in CLIP_FILES},
        "clips": clips,
    }
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
    state_path.unlink(missing_ok=True)
    return manifest_path
