"""Real-HR test pairs: real VIIRS-class rasters as HR, with a *simulated* DMSP-like LR.

No real coarse/fine pair exists in ``../shared/data``, so each real night-light raster is cut into
tiles whose HR side is a multiple of 8, and the LR input of each tile is made by the DMSP-like
degradation model (:func:`deeplight.data.degrade.degrade_dmsp_like`, seeded per tile). The tables
say so. The auxiliary modalities (DMO, DEM, ISP) do not exist for these places: the samples carry
zero tensors with ``present`` = 0, and every model runs in its aux-absent mode.

Scenes (see ``../shared/data/README.md``): Shanghai NPP-VIIRS-like 2018 and 2020, Shanghai NPP-VIIRS
(VNL) 2018 and 2020, Cote d'Ivoire VIIRS 2024 (``ntl.tif``), Touggourt VNL v2 2020.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deeplight.data.degrade import degrade_dmsp_like
from deeplight.contracts import SCALE, normalize_dn, normalize_radiance
from deeplight.errors import RasterError
from deeplight.io.raster import read_window
from deeplight.utils_io import default_data_dir

REAL_SCENES: dict[str, str] = {
    "shanghai-viirs-like-2018": "shanghai/viirs_like_2000_2020/NTL_Shanghai_2000_2020_2018.tif",
    "shanghai-viirs-like-2020": "shanghai/viirs_like_2000_2020/NTL_Shanghai_2000_2020_2020.tif",
    "shanghai-npp-viirs-2018": "shanghai/npp_viirs_2013_2022/NTL_Shanghai_NPP-VIIRS_2013_2022_2018.tif",
    "shanghai-npp-viirs-2020": "shanghai/npp_viirs_2013_2022/NTL_Shanghai_NPP-VIIRS_2013_2022_2020.tif",
    "cote-divoire-viirs-2024": "cote_divoire/ntl.tif",
    "touggourt-vnl-2020": "touggourt/VNL_v2_npp_2020_global_vcmslcfg_c202102150000.average_masked.tif",
}
"""Scene name -> path relative to the shared data folder."""

TILE_HR = 128
"""Side of a real-HR tile in HR pixels (LR 16x16)."""
LIT_RADIANCE = 2.0
"""Radiance (nW/cm^2/sr) counted as lit when ranking tiles."""


@dataclass
class RealPair:
    """One tile: sample dict (unbatched, docs/CONTRACTS.md keys) plus where it came from."""

    scene: str
    window: tuple[int, int, int, int]
    sample: dict[str, torch.Tensor]


def read_radiance(path: Path) -> np.ndarray:
    """Band 1 as float64 radiance with nodata (declared nodata, negatives) as NaN."""
    if not path.is_file():
        raise RasterError(f"real night-light raster {path} not found: set DEEPLIGHT_DATA_DIR to the shared data folder")
    band = read_window(path, band=1, dtype=np.float64)  # declared nodata -> NaN
    band[band < 0] = np.nan
    return band


def _tile_size(shape: tuple[int, int], tile: int) -> tuple[int, int]:
    """Tile side per axis: ``tile`` or the largest multiple of 8 that fits a smaller raster."""
    return tuple(min(tile, (n // SCALE) * SCALE) for n in shape)  # type: ignore[return-value]


def tiles_of_scene(
    radiance: np.ndarray, tile: int = TILE_HR, max_tiles: int = 4, min_valid: float = 0.9
) -> list[tuple[int, int, int, int]]:
    """Non-overlapping windows ``(row, col, height, width)`` ranked by lit fraction (brightest first).

    Windows with fewer than ``min_valid`` valid pixels or no lit pixel are skipped.
    """
    th, tw = _tile_size(radiance.shape, tile)
    if th < 4 * SCALE or tw < 4 * SCALE:
        raise RasterError(f"raster of shape {radiance.shape} is too small for a real-HR tile (needs >= 32x32)")
    candidates = []
    for r in range(0, radiance.shape[0] - th + 1, th):
        for c in range(0, radiance.shape[1] - tw + 1, tw):
            win = radiance[r : r + th, c : c + tw]
            valid = np.isfinite(win)
            if valid.mean() < min_valid:
                continue
            lit = float(np.mean(np.nan_to_num(win) >= LIT_RADIANCE))
            if lit > 0:
                candidates.append((lit, (r, c, th, tw)))
    candidates.sort(key=lambda x: -x[0])
    return [w for _, w in candidates[:max_tiles]]


def make_pair(radiance_tile: np.ndarray, seed: int) -> dict[str, torch.Tensor]:
    """Sample dict of one real HR tile with a simulated LR (aux absent, ``present = [1, 0, 0, 0]``)."""
    lr_dn, _ = degrade_dmsp_like(radiance_tile, seed=seed)
    h, w = radiance_tile.shape
    valid = np.isfinite(radiance_tile)
    hr = np.where(valid, normalize_radiance(np.nan_to_num(radiance_tile)), np.nan)
    f = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    return {
        "lr": f(normalize_dn(np.nan_to_num(lr_dn)))[None],
        "hr": f(hr)[None],
        "dmo": torch.zeros(7, h, w),
        "dem": torch.zeros(1, h, w),
        "isp": torch.zeros(1, h, w),
        "present": torch.tensor([1.0, 0.0, 0.0, 0.0]),
        "valid": f(valid)[None],
    }


def load_real_pairs(
    data_dir: str | os.PathLike[str] | None = None, scenes: list[str] | None = None, tile: int = TILE_HR,
    max_tiles_per_scene: int = 4, seed: int = 2024,
) -> list[RealPair]:
    """All real-HR test pairs of the chosen scenes.

    Args:
        data_dir: the shared data folder (default :func:`default_data_dir`).
        scenes: names from :data:`REAL_SCENES` (default: all).
        tile: HR tile side.
        max_tiles_per_scene: brightest tiles kept per scene.
        seed: base seed of the degradation (tile k of scene j uses ``seed + 100 j + k``).

    Raises:
        RasterError: a raster is missing or unreadable (the message names it).
        ValueError: an unknown scene name (the message lists the choices).
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    names = scenes or list(REAL_SCENES)
    unknown = [n for n in names if n not in REAL_SCENES]
    if unknown:
        raise ValueError(f"unknown real scene(s) {unknown}; valid choices: {', '.join(REAL_SCENES)}")
    pairs = []
    for j, name in enumerate(names):
        radiance = read_radiance(root / REAL_SCENES[name])
        for k, (r, c, h, w) in enumerate(tiles_of_scene(radiance, tile, max_tiles_per_scene)):
            sample = make_pair(radiance[r : r + h, c : c + w], seed + 100 * j + k)
            pairs.append(RealPair(scene=name, window=(r, c, h, w), sample=sample))
    return pairs
