"""Tiny DeepLightMD-style samples made by code for trainer tests (no files, no network).

HR radiance is a sum of Gaussian "towns" on a dim background; LR is made from it by the project's
DMSP-like degradation model (simulated); DMO, DEM and ISP are derived from the HR layout so the
auxiliary data carry real information about where the lights are.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from deeplight.data.degrade import degrade_dmsp_like
from deeplight.contracts import normalize_dem, normalize_dn, normalize_radiance


def make_sample(seed: int, lr_size: int = 8) -> dict[str, torch.Tensor]:
    """One sample dict with the keys and shapes of docs/CONTRACTS.md (unbatched)."""
    rng = np.random.default_rng(seed)
    size = lr_size * 8
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    radiance = np.full((size, size), 0.3)
    urban = np.zeros((size, size))
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, size, 2)
        width = rng.uniform(2.0, 7.0)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width**2))
        radiance += rng.uniform(20, 200) * blob
        urban = np.maximum(urban, blob)
    lr_dn, _ = degrade_dmsp_like(radiance, seed=seed)
    isp = np.clip(urban * 1.2, 0, 1)
    dmo = np.stack([0.05 + 0.15 * isp + 0.01 * b + 0.01 * rng.standard_normal(isp.shape) for b in range(7)])
    dem = 50 + 20 * np.sin(xx / 13.0) + 10 * np.cos(yy / 7.0)
    f = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    return {
        "lr": f(normalize_dn(np.nan_to_num(lr_dn)))[None],
        "hr": f(normalize_radiance(radiance))[None],
        "dmo": f(np.clip(dmo, 0, 1)),
        "dem": f(normalize_dem(dem))[None],
        "isp": f(isp)[None],
        "present": torch.ones(4),
        "valid": torch.ones(1, size, size),
    }


class TinySamples(Dataset):
    """``n`` code-made samples (cached in memory), seeds ``offset .. offset + n - 1``."""

    def __init__(self, n: int, offset: int = 0, lr_size: int = 8) -> None:
        self.items = [make_sample(offset + i, lr_size) for i in range(n)]
        self.description = f"{n} code-made tiny samples (simulated LR), seeds {offset}..{offset + n - 1}"

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]
