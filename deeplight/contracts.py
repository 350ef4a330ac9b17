"""The contracts every layer shares, declared once (see docs/CONTRACTS.md).

The ground floor of the package: it imports nothing from ``deeplight``, and every other module takes
these facts from here, so a newcomer changes the DMO band count, the DN response or the tag schema
in one place.

- the fixed radiometric scale: radiance r in nW/cm^2/sr maps to ``log1p(r) / log1p(RADIANCE_MAX)``;
  DMSP-like DN (0..63) maps to ``dn / 63``; elevation to metres / 1000;
- the nominal DMSP-like response (the noise-free radiometric part of ``deeplight/data/degrade.py``);
- the sample layout: modality names, the DMO band count, the column order of ``present``;
- the raster tag schema: the ``simulated`` flag and how it is read.

Functions accept numpy arrays or torch tensors.
"""

from __future__ import annotations

import math
import sys
from typing import TypeVar

import numpy as np


def _is_tensor(x: object) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch (1.4 s) into a process that has none:
    where torch is not imported yet, no tensor exists."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


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
    return x.log1p() if _is_tensor(x) else np.log1p(x)


def _expm1(x):
    return x.expm1() if _is_tensor(x) else np.expm1(x)


def normalize_radiance(radiance: Array) -> Array:
    """Radiance (nW/cm^2/sr, >= 0) -> normalised log scale in [0, ~1]."""
    if _is_tensor(radiance):
        return _log1p(radiance.clamp_min(0)) / _LOG_RMAX
    return _log1p(np.maximum(radiance, 0)) / _LOG_RMAX


def denormalize_radiance(value: Array) -> Array:
    """Normalised log scale -> radiance (nW/cm^2/sr); negative inputs give 0."""
    if _is_tensor(value):
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


# --- Nominal DMSP-like response (the noise-free radiometric part of deeplight/data/degrade.py) ---
NOMINAL_DN_GAIN = 6.0
"""DN per (nW/cm^2/sr)^gamma of the nominal DMSP-like response ``DN = gain * R**gamma``.

Our choice (documented in docs/data.md): with ``NOMINAL_DN_GAMMA`` it puts saturation (DN 63) at
about 50 nW/cm^2/sr and DN 6 at 1 nW/cm^2/sr, in line with the power-law DMSP/VIIRS cross-sensor
relations (e.g. Zheng et al. 2019, Remote Sens. Environ.) and with DMSP saturating in urban cores
(Elvidge et al. 1997). The exact coefficients of those papers were not verified here."""
NOMINAL_DN_GAMMA = 0.6
"""Exponent of the nominal DMSP-like response (compressive, < 1); see ``NOMINAL_DN_GAIN``."""


def radiance_to_nominal_dn(radiance: Array) -> Array:
    """Radiance (nW/cm^2/sr) -> nominal DMSP-like DN, noise-free, clipped to 0..63, not quantised.

    This is the mean response of the degradation model without gain drift, blur, shift or noise;
    use it to feed a real radiance raster (e.g. VIIRS) as LR input. NaN stays NaN.
    """
    if _is_tensor(radiance):
        return (NOMINAL_DN_GAIN * radiance.clamp_min(0) ** NOMINAL_DN_GAMMA).clamp(0, DN_MAX)
    with np.errstate(invalid="ignore"):
        return np.clip(NOMINAL_DN_GAIN * np.maximum(radiance, 0) ** NOMINAL_DN_GAMMA, 0, DN_MAX)


def nominal_dn_to_radiance(dn: Array) -> Array:
    """Inverse of :func:`radiance_to_nominal_dn` for DN in 0..63 (DN 63 gives the saturation
    radiance, a lower bound of the true one). NaN stays NaN."""
    if _is_tensor(dn):
        return (dn.clamp(0, DN_MAX) / NOMINAL_DN_GAIN) ** (1.0 / NOMINAL_DN_GAMMA)
    with np.errstate(invalid="ignore"):
        return (np.clip(dn, 0, DN_MAX) / NOMINAL_DN_GAIN) ** (1.0 / NOMINAL_DN_GAMMA)


def normalize_isp(fraction: Array) -> Array:
    """Impervious fraction (0..1) -> the same value (identity, kept for symmetry)."""
    return fraction


def normalize_dmo(reflectance: Array) -> Array:
    """Surface reflectance (0..1) -> the same value (identity, see docs/CONTRACTS.md)."""
    return reflectance


# --- Sample layout (docs/CONTRACTS.md) ---
DMO_BANDS = 7
"""Landsat-8 surface-reflectance bands 1-7 of the daytime multispectral observation (DMO)."""
AUX_MODALITIES: tuple[str, ...] = ("dmo", "dem")
"""The auxiliary inputs of the models (the ISP is an auxiliary *target*)."""
PRESENT_ORDER: tuple[str, ...] = ("hr", "dmo", "dem", "isp")
"""Column order of a sample's ``present`` vector (1 = given, 0 = absent)."""
PRESENT_INDEX: dict[str, int] = {name: i for i, name in enumerate(PRESENT_ORDER)}
"""Column of each modality in ``present``: ``batch["present"][:, PRESENT_INDEX["dem"]]``."""
BORDER_PX = 8
"""HR pixels cropped on every side before any metric (SCIENCE.md section 3), in training and evaluation."""
SATURATED_DN = DN_MAX - 0.5
"""An LR cell at or above this DN is saturated: its nominal radiance is only a lower bound."""

# --- Raster tag schema (GeoTIFF tags written by deeplight.io.cog.write_cog) ---
SIMULATED_TAG = "simulated"
"""Tag that says whether a raster was made by the degradation model ("true") or observed ("false")."""
TRUE_VALUES = ("true", "1", "yes")


def tag_is_true(tags: dict | None, key: str = SIMULATED_TAG, default: bool = False) -> bool:
    """Read a boolean raster tag (``"true"``/``"false"``, case and spaces ignored); absent: ``default``."""
    if not tags or key not in tags or tags[key] is None:
        return default
    return str(tags[key]).strip().lower() in TRUE_VALUES
