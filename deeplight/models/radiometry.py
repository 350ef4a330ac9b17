"""The nominal DMSP-like radiometric response the models start from.

The LR input is a DMSP-like 6-bit DN (normalised ``dn / 63``), the target a VIIRS/Luojia-like
radiance (normalised ``log1p(r) / log1p(1000)``, see docs/CONTRACTS.md), so every method needs a
DN -> radiance mapping. We take the classic power-law form of DMSP-vs-radiance relations
(DN = 63 (r / R_sat)^gamma, e.g. the "DMSP-like" power transforms of Zheng et al. 2019 and the
saturation at DN 63 of Elvidge et al. 1997) with nominal values chosen here: the learned
calibrations (DeepLightSR stage 1, the calibration baselines) adapt them per scene or by fitting.
"""

from __future__ import annotations

import torch

from deeplight.data.norm import normalize_radiance

NOMINAL_SATURATION_RADIANCE = 100.0
"""Radiance (nW/cm^2/sr) at which the nominal DMSP-like sensor reaches DN 63 (our choice)."""
NOMINAL_GAMMA = 0.6
"""Exponent of the nominal response DN = 63 (r / R_sat)^gamma (our choice; < 1 compresses brights)."""


def nominal_dn_to_radiance(dn_normalised: torch.Tensor, gain: torch.Tensor | float = 1.0,
                           exponent: torch.Tensor | float = 1.0 / NOMINAL_GAMMA) -> torch.Tensor:
    """Invert the nominal response: normalised DN (0..1) -> radiance (nW/cm^2/sr).

    ``r = gain * R_sat * x ** exponent`` computed as ``exp(exponent * log x)`` with ``x`` clamped at
    1e-6, so gradients stay finite at DN 0.

    Args:
        dn_normalised: (...) DN / 63.
        gain: multiplier of the saturation radiance (scalar or broadcastable tensor).
        exponent: 1 / gamma (scalar or broadcastable tensor).
    """
    x = dn_normalised.clamp(min=1e-6)
    return gain * NOMINAL_SATURATION_RADIANCE * torch.exp(exponent * torch.log(x))


def nominal_dn_to_normalised_radiance(dn_normalised: torch.Tensor) -> torch.Tensor:
    """Normalised DN -> normalised radiance through the fixed nominal response."""
    return normalize_radiance(nominal_dn_to_radiance(dn_normalised))
