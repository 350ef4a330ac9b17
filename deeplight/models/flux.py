"""Flux-consistent projection of a super-resolved image onto its LR observation.

Night-light indicators are sums of radiance over areas (sum of lights, CO2 disaggregation). An SR
image whose ``scale x scale`` block means (in linear radiance) equal the calibrated LR keeps every
regional total unchanged, whatever detail it adds. The projection redistributes each LR pixel's
radiance over its block in proportion to the SR image:

    s = r_SR + eps,   r_out = s * r_LR / mean_block(s)

which is non-negative, exact (``mean_block(r_out) = r_LR``) and leaves the SR pattern within each
block unchanged. Computed in float64 where the device allows it, float32 otherwise.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from deeplight.data.norm import denormalize_radiance, normalize_radiance

FLUX_EPS = 1e-6
"""Radiance (nW/cm^2/sr) added before the ratio so all-dark blocks share the LR value evenly."""


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.device.type == "mps" else torch.float64


def flux_consistent(sr: torch.Tensor, lr_calibrated: torch.Tensor, scale: int = 8) -> torch.Tensor:
    """Project ``sr`` so that its block means in linear radiance equal ``lr_calibrated``.

    Args:
        sr: (B, 1, s h, s w) normalised radiance.
        lr_calibrated: (B, 1, h, w) normalised radiance.
        scale: s.

    Returns:
        (B, 1, s h, s w) normalised radiance (float32), differentiable.
    """
    dtype = _work_dtype(sr)
    radiance = denormalize_radiance(sr.to(dtype)) + FLUX_EPS
    target = denormalize_radiance(lr_calibrated.to(dtype))
    block_mean = F.avg_pool2d(radiance, scale)
    ratio = F.interpolate(target / block_mean, scale_factor=scale, mode="nearest")
    return normalize_radiance(radiance * ratio).float()


def flux_error(sr: torch.Tensor, lr_calibrated: torch.Tensor, scale: int = 8) -> torch.Tensor:
    """Relative L1 flux error ``|avgpool(r_SR) - r_LR|_1 / |r_LR|_1`` in linear radiance (scalar)."""
    dtype = _work_dtype(sr)
    pooled = F.avg_pool2d(denormalize_radiance(sr.to(dtype)), scale)
    target = denormalize_radiance(lr_calibrated.to(dtype))
    return (pooled - target).abs().sum() / target.abs().sum().clamp_min(1e-12)
