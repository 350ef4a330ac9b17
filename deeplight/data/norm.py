"""The fixed radiometric scale shared by data, models, metrics and inference.

Every method is trained and evaluated on the same scale (see docs/CONTRACTS.md):
radiance r in nW/cm^2/sr maps to ``log1p(r) / log1p(RADIANCE_MAX)``; DMSP-like DN (0..63)
maps to ``dn / 63``. Functions accept numpy arrays or torch tensors.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

try:  # torch is a hard dependency of the package, but keep this module importable without it
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]

Array = TypeVar("Array")

SCALE = 8
"""Ratio of LR to HR pixel size (DeepLightMD: 256 -> 2048)."""
RADIANCE_MAX = 1000.0
"""Radiance (nW/cm^2/sr) that maps to 1.0 on the normalised scale; brighter pixels exceed 1."""
DN_MAX = 63.0
"""DMSP-OLS 6-bit saturation cap (Elvidge et al. 1997)."""
DEM_SCALE_M = 1000.0
"""Metres that map to 1.0 on the normalised elevation scale."""

_LOG_RMAX = math.log1p(RADIANCE_MAX)


def _log1p(x):
    return torch.log1p(x) if torch is not None and isinstance(x, torch.Tensor) else np.log1p(x)


def _expm1(x):
    return torch.expm1(x) if torch is not None and isinstance(x, torch.Tensor) else np.expm1(x)


def normalize_radiance(radiance: Array) -> Array:
    """Radiance (nW/cm^2/sr, >= 0) -> normalised log scale in [0, ~1]."""
    if torch is not None and isinstance(radiance, torch.Tensor):
        return _log1p(radiance.clamp_min(0)) / _LOG_RMAX
    return _log1p(np.maximum(radiance, 0)) / _LOG_RMAX


def denormalize_radiance(value: Array) -> Array:
    """Normalised log scale -> radiance (nW/cm^2/sr); negative inputs give 0."""
    if torch is not None and isinstance(value, torch.Tensor):
        return _expm1(value.clamp_min(0) * _LOG_RMAX)
    return _expm1(np.maximum(value, 0) * _LOG_RMAX)


def normalize_dn(dn: Array) -> Array:
    """DMSP-like DN (0..63) -> [0, 1]."""
    return dn / DN_MAX


def denormalize_dn(value: Array) -> Array:
    """[0, 1] -> DN (0..63)."""
    return value * DN_MAX


def normalize_dem(metres: Array) -> Array:
    """Elevation in metres -> metres / 1000."""
    return metres / DEM_SCALE_M
