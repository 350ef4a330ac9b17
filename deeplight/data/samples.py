"""Sample dicts (docs/CONTRACTS.md): normalisation, identical augmentation, and collation.

A sample maps ``lr`` (1, h, w), ``hr`` (1, 8h, 8w), ``dmo`` (7, 8h, 8w), ``dem`` (1, 8h, 8w),
``isp`` (1, 8h, 8w), ``present`` (4,) and ``valid`` (1, 8h, 8w) to float32 tensors on the normalised
scale of :mod:`deeplight.contracts`; a missing modality is zeros with ``present`` 0 (order
``hr, dmo, dem, isp``). Non-tensor extras travel along: ``crs`` (WKT), ``transform`` (6 floats of
the HR grid of the patch, before augmentation), ``name``, ``lr_simulated`` (True when the LR was
made by the degradation model - label results accordingly) and ``augment`` (``(k, flip)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from deeplight.contracts import DMO_BANDS, SCALE, normalize_dem, normalize_dn, normalize_radiance

TENSOR_KEYS: tuple[str, ...] = ("lr", "hr", "dmo", "dem", "isp", "present", "valid")


def _chw(array: np.ndarray | None, channels: int, shape: tuple[int, int]) -> np.ndarray | None:
    if array is None:
        return None
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.shape != (channels, *shape):
        raise ValueError(f"expected shape {(channels, *shape)}, got {array.shape}")
    return array


def make_sample(
    lr_dn: np.ndarray,
    *,
    hr_radiance: np.ndarray | None = None,
    dmo: np.ndarray | None = None,
    dem_m: np.ndarray | None = None,
    isp: np.ndarray | None = None,
    extras: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Physical arrays -> a normalised sample dict (NaN -> 0; ``valid`` marks finite HR).

    Args:
        lr_dn: ``(h, w)`` DN 0..63.
        hr_radiance: ``(8h, 8w)`` nW/cm^2/sr or None.
        dmo: ``(7, 8h, 8w)`` reflectance or None.
        dem_m: ``(8h, 8w)`` metres or None.
        isp: ``(8h, 8w)`` fraction or None.
        extras: non-tensor entries to carry (``crs``, ``transform``, ``name`` ...).

    Returns:
        The sample dict of docs/CONTRACTS.md (unbatched). ``valid`` is 0 everywhere when HR is
        absent.
    """
    lr = np.asarray(lr_dn, dtype=np.float32)
    if lr.ndim == 3:
        lr = lr[0]
    h, w = lr.shape
    hr_shape = (h * SCALE, w * SCALE)
    hr = _chw(hr_radiance, 1, hr_shape)
    dmo_a = _chw(dmo, DMO_BANDS, hr_shape)
    dem = _chw(dem_m, 1, hr_shape)
    isp_a = _chw(isp, 1, hr_shape)
    present = np.array([a is not None for a in (hr, dmo_a, dem, isp_a)], dtype=np.float32)
    zeros1 = np.zeros((1, *hr_shape), dtype=np.float32)
    valid = np.isfinite(hr).astype(np.float32) if hr is not None else zeros1
    sample: dict[str, Any] = {
        "lr": torch.from_numpy(np.nan_to_num(normalize_dn(lr), nan=0.0)[None].astype(np.float32)),
        "hr": torch.from_numpy(np.nan_to_num(normalize_radiance(hr), nan=0.0).astype(np.float32))
        if hr is not None
        else torch.from_numpy(zeros1),
        "dmo": torch.from_numpy(np.nan_to_num(dmo_a, nan=0.0))
        if dmo_a is not None
        else torch.zeros((DMO_BANDS, *hr_shape)),
        "dem": torch.from_numpy(np.nan_to_num(normalize_dem(dem), nan=0.0).astype(np.float32))
        if dem is not None
        else torch.zeros((1, *hr_shape)),
        "isp": torch.from_numpy(np.nan_to_num(np.clip(isp_a, 0, 1), nan=0.0))
        if isp_a is not None
        else torch.zeros((1, *hr_shape)),
        "present": torch.from_numpy(present),
        "valid": torch.from_numpy(valid),
    }
    if extras:
        sample.update(extras)
    return sample


def augment_sample(sample: dict[str, Any], k: int, flip: bool) -> dict[str, Any]:
    """Rotate every image tensor by ``k`` quarter turns and optionally flip left-right.

    The same operation is applied to the LR and the HR-grid tensors, so they stay co-registered
    (the LR pixel (i, j) still covers HR pixels 8i..8i+7, 8j..8j+7).
    """
    out = dict(sample)
    for key in ("lr", "hr", "dmo", "dem", "isp", "valid"):
        tensor = sample[key]
        if k % 4:
            tensor = torch.rot90(tensor, k % 4, dims=(-2, -1))
        if flip:
            tensor = torch.flip(tensor, dims=(-1,))
        out[key] = tensor.contiguous()
    out["augment"] = (int(k % 4), bool(flip))
    return out


def draw_augmentation(rng: np.random.Generator) -> tuple[int, bool]:
    """One of the 8 dihedral transforms, uniformly."""
    return int(rng.integers(4)), bool(rng.integers(2))


def collate_samples(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack tensors of a list of samples along a new batch axis; other entries become lists.

    Use as ``DataLoader(..., collate_fn=collate_samples)``.

    Raises:
        ValueError: empty list, or samples with different keys/shapes (the message says which).
    """
    if not items:
        raise ValueError("collate_samples needs at least one sample")
    keys = list(items[0].keys())
    batch: dict[str, Any] = {}
    for key in keys:
        values = [item[key] for item in items]
        if isinstance(values[0], torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) != 1:
                raise ValueError(
                    f"cannot batch {key!r}: samples have shapes {sorted(shapes)}; use the "
                    "same patch size for every sample"
                )
            batch[key] = torch.stack(values)
        else:
            batch[key] = values
    return batch
