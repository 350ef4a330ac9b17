"""The nominal DMSP-like radiometric response the models start from.

The LR input is a DMSP-like 6-bit DN (normalised ``dn / 63``), the target a VIIRS/Luojia-like
radiance (normalised ``log1p(r) / log1p(1000)``, see docs/CONTRACTS.md), so every method needs a
DN -> radiance mapping. The models start from the same nominal power law as the degradation model
(``deeplight.contracts``: DN = gain * r^gamma, saturating at DN 63), rewritten on the normalised DN
x = DN / 63 as ``r = R_sat * x^(1/gamma)``; the learned calibrations (DeepLightSR stage 1, the
calibration baselines) adapt it per scene or by fitting.
"""

from __future__ import annotations

import torch

from deeplight.contracts import DN_MAX, NOMINAL_DN_GAIN, NOMINAL_DN_GAMMA, SATURATED_DN, normalize_radiance

NOMINAL_GAMMA = NOMINAL_DN_GAMMA
"""Exponent of the nominal response (``deeplight.contracts.NOMINAL_DN_GAMMA``)."""
NOMINAL_SATURATION_RADIANCE = (DN_MAX / NOMINAL_DN_GAIN) ** (1.0 / NOMINAL_DN_GAMMA)
"""Radiance (nW/cm^2/sr, about 50) at which the nominal response reaches DN 63."""


def normalised_dn_to_radiance(
    dn_normalised: torch.Tensor,
    gain: torch.Tensor | float = 1.0,
    exponent: torch.Tensor | float = 1.0 / NOMINAL_GAMMA,
) -> torch.Tensor:
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


def normalised_dn_to_normalised_radiance(dn_normalised: torch.Tensor) -> torch.Tensor:
    """Normalised DN -> normalised radiance through the fixed nominal response."""
    return normalize_radiance(normalised_dn_to_radiance(dn_normalised))
