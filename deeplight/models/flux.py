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

from deeplight.contracts import denormalize_radiance, normalize_radiance

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


# --- Flux kept by construction (DeepLightSR's output stage) -------------------------------------
#
# The output is built so that it cannot be worse evidence than its input in the quantities the SDG
# indicators use: every LR cell's calibrated radiance x area is moved or redistributed, never
# created (except above the sensor's saturation cap, where the LR is only a lower bound), and a
# cell the LR sees as dark stays dark.

DARK_RADIANCE = 1e-3
"""Calibrated LR radiance (nW/cm^2/sr) below which a cell counts as dark: no flux may enter it."""


MAX_LEAVE = 0.9
"""Largest share of a cell's radiance the transport may move out of it."""


def neighbourhood_transport(
    radiance: torch.Tensor, leave_raw: torch.Tensor, move_logits: torch.Tensor, kernel: int = 5
) -> torch.Tensor:
    """Move radiance between LR cells, conserving the total exactly (learned de-blooming).

    Blooming (SCIENCE.md section 2) spreads a bright source's flux into its dark neighbours; the
    inverse moves flux back. Each cell sends the share ``clamp(leave_raw, 0, MAX_LEAVE)`` of its
    radiance (0 at a zero-initialised head: the identity) to the other cells of its ``kernel x kernel`` neighbourhood with softmax weights
    of ``move_logits``. Destinations outside the image or dark in the input (radiance below
    :data:`DARK_RADIANCE`) get weight 0, so no flux leaves the scene and a dark cell stays dark;
    a cell with no allowed destination keeps everything.

    Args:
        radiance: (B, 1, h, w) non-negative radiance (nW/cm^2/sr), float32/float64.
        leave_raw: (B, 1, h, w), the share to move before clamping to 0..MAX_LEAVE.
        move_logits: (B, kernel*kernel, h, w), one logit per destination offset (row-major, the
            centre entry ignored).
        kernel: odd neighbourhood side.

    Returns:
        (B, 1, h, w) radiance with the same per-sample sum as ``radiance`` (to float rounding).
    """
    b, _, h, w = radiance.shape
    k2 = kernel * kernel
    pad = kernel // 2
    lit = (radiance > DARK_RADIANCE).to(radiance.dtype)
    # allowed[b, d, i]: destination i + offset(d) exists and is lit
    allowed = F.unfold(lit, kernel, padding=pad).view(b, k2, h, w)
    centre = k2 // 2
    allowed = torch.cat([allowed[:, :centre], torch.zeros_like(allowed[:, :1]), allowed[:, centre + 1 :]], 1)
    logits = move_logits.to(radiance.dtype).masked_fill(allowed <= 0, float("-inf"))
    any_dest = allowed.sum(1, keepdim=True) > 0
    weights = torch.softmax(torch.where(any_dest, logits, torch.zeros_like(logits)), dim=1)
    weights = torch.nan_to_num(weights) * allowed
    leave = leave_raw.to(radiance.dtype).clamp(0.0, MAX_LEAVE) * any_dest.to(radiance.dtype)
    moved = radiance * leave * weights  # (B, k2, h, w): flux sent from each cell to each offset
    # F.fold adds column entry d of source i to position i + offset(d): the transport's adjoint
    # of unfold, so every unit of flux sent arrives somewhere inside the image.
    received = F.fold(moved.reshape(b, k2, h * w), (h, w), kernel, padding=pad)
    # the reversed offset convention: unfold's entry d at i reads i + offset(d); fold writes
    # i + offset(d) as well, so destinations match the mask above.
    return radiance * (1 - leave) + received


def distribute_within_cells(
    cell_radiance: torch.Tensor, pattern: torch.Tensor, scale: int = 8, smooth_steps: int = 1
) -> torch.Tensor:
    """Spread each LR cell's radiance over its ``scale x scale`` HR pixels in proportion to ``pattern``.

    ``pattern`` (positive, HR) is first pulled towards the cell means by ``smooth_steps`` of
    multiplicative back-projection with a bilinear (continuous) correction, so the last, exact
    per-cell rescaling changes it by factors close to 1 and leaves no seam on the 8-pixel grid
    (Irani & Peleg 1991 iterative back-projection, here in multiplicative form). Then
    ``out = pattern * cell / mean_cell(pattern)`` exactly: the HR pixels of a cell average to the
    cell's radiance, a dark cell gives dark pixels, nothing is negative.

    Args:
        cell_radiance: (B, 1, h, w) radiance (nW/cm^2/sr), >= 0.
        pattern: (B, 1, s h, s w) positive weights (for example a radiance estimate).
        scale: s.
        smooth_steps: bilinear back-projection steps before the exact one (1: on a real Shanghai
            scene the period-8 spectral peak of the untrained output is -4.7 dB against -0.4 dB
            of the HR and -2.7 dB of bicubic; 3 steps overshoot to +1.8 dB).

    Returns:
        (B, 1, s h, s w) radiance whose ``scale``-block means equal ``cell_radiance``.
    """
    eps = torch.finfo(pattern.dtype).tiny ** 0.5
    target = cell_radiance.to(pattern.dtype)
    s = pattern + eps
    for _ in range(smooth_steps):
        ratio = (target + eps) / (F.avg_pool2d(s, scale) + eps)
        ratio = F.interpolate(ratio, scale_factor=scale, mode="bilinear", align_corners=False)
        s = s * ratio + eps
    block = F.avg_pool2d(s, scale)
    ratio = F.interpolate(target / block, scale_factor=scale, mode="nearest")
    return s * ratio
