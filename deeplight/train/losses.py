"""Training losses: the DeepLight multi-scale loss and the plain L1 of the baselines.

DeepLight (Zhang et al., IJCAI 2024, from the authors' README):

    L = alpha * sum_j beta_j * L1(SR_j, HR_j) + (1 - alpha) * BCE(ISP_pred, ISP)

with j over the m = 3 output scales (x2, x4, x8 of the LR grid). The paper does not publish alpha
and beta_j; our documented defaults are ``alpha = 0.9`` and ``betas = (0.2, 0.3, 0.5)`` (the finest
scale, the one evaluated, weighs most; coarse scales guide the early stages).

Domains (choices the paper leaves open, see docs/models.md):
- HR_j is HR area-averaged to scale j **in linear radiance** (physically: a coarser pixel receives
  the mean radiance of its footprint), then mapped back to the normalised log scale on which SR_j
  lives and on which the L1 is taken. Only valid HR pixels enter a block's mean; a block with less
  than half its pixels valid is masked out.
- The BCE is applied at every scale where the model predicts ISP logits, with the same beta_j, on the
  impervious fraction area-averaged to that scale (a soft target in 0..1); samples whose ISP is
  absent (``present[:, 3] = 0``) or non-finite are masked out. Samples without HR
  (``present[:, 0] = 0``) contribute no L1.
Baselines use the plain masked L1 of the x8 output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from deeplight.contracts import denormalize_radiance, normalize_radiance
from deeplight.errors import ConfigError
from deeplight.models.registry import model_family

DEFAULT_ALPHA = 0.9
"""Weight of the reconstruction term (1 - alpha weighs the ISP BCE); our choice."""
DEFAULT_BETAS = (0.2, 0.3, 0.5)
"""Weights of the x2, x4, x8 reconstruction terms; our choice."""
MIN_VALID_SHARE = 0.5
"""A coarse block needs at least this share of valid HR pixels to be supervised."""


def _valid_mask(batch: dict, hr: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) float mask: ``batch["valid"]`` (if any) and finite HR and HR present."""
    mask = torch.isfinite(hr).to(hr.dtype)
    if batch.get("valid") is not None:
        mask = mask * batch["valid"].to(hr.dtype)
    present = batch.get("present")
    if present is not None:
        mask = mask * present[:, 0].to(hr.dtype).view(-1, 1, 1, 1)
    return mask


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over ``mask`` > 0 (0 when nothing is valid, keeping the graph)."""
    diff = (prediction.float() - torch.nan_to_num(target.float(), nan=0.0)).abs() * mask
    return diff.sum() / mask.sum().clamp_min(1.0)


def area_average_radiance(
    hr: torch.Tensor, mask: torch.Tensor, factor: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Area-average normalised HR to a coarser grid in linear radiance.

    Args:
        hr: (B, 1, H, W) normalised radiance (NaN allowed where ``mask`` is 0).
        mask: (B, 1, H, W) validity (0/1).
        factor: block size (H and W divisible by it).

    Returns:
        (coarse normalised radiance (B, 1, H/f, W/f), coarse mask: 1 where >= half the block valid).
    """
    if factor == 1:
        return torch.nan_to_num(hr, nan=0.0), mask
    radiance = denormalize_radiance(torch.nan_to_num(hr.float(), nan=0.0)) * mask
    share = F.avg_pool2d(mask, factor)
    mean = F.avg_pool2d(radiance, factor) / share.clamp_min(1e-6)
    return normalize_radiance(mean), (share >= MIN_VALID_SHARE).to(mask.dtype)


class L1Loss(nn.Module):
    """Plain masked L1 between ``outputs["sr"]`` and ``batch["hr"]`` (the baselines' loss)."""

    def forward(self, outputs: dict, batch: dict) -> dict[str, torch.Tensor]:
        """Returns ``{"loss": scalar, "l1": scalar}``."""
        hr = batch["hr"]
        l1 = masked_l1(outputs["sr"], hr, _valid_mask(batch, hr))
        return {"loss": l1, "l1": l1.detach()}


class DeepLightLoss(nn.Module):
    """alpha * sum_j beta_j L1(SR_j, HR_j) + (1 - alpha) * sum_j beta_j BCE(ISP_j, ISP target_j).

    Args:
        alpha: reconstruction weight in [0, 1].
        betas: weights of the scales of ``outputs["sr_pyramid"]`` (coarse to fine), >= 0, not all 0.
        scale: HR/LR ratio (the coarsest output is at scale / 2^(m-1)... x2 of LR).
        flux_weight: weight of a flux term in LINEAR radiance (our addition, 0 = the paper's loss):
            per sample, the relative L1 between the LR-cell means of SR and HR plus the relative
            error of the sample's total, ``sum|pool(r_SR) - pool(r_HR)| / sum pool(r_HR) +
            |sum r_SR - sum r_HR| / sum r_HR`` over valid cells. The log-scale L1 alone is
            dominated by the many dark pixels and lets a model under-state sums of lights; with
            DeepLightSR's flux-conserving output this term trains the calibration, de-saturation
            and transport (the cell values), not the pattern within cells.
    """

    def __init__(
        self,
        alpha: float = DEFAULT_ALPHA,
        betas: Sequence[float] = DEFAULT_BETAS,
        scale: int = 8,
        flux_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= float(alpha) <= 1.0:
            raise ConfigError(f"loss alpha={alpha!r} must be in [0, 1]")
        betas = tuple(float(b) for b in betas)
        if not betas or any(b < 0 for b in betas) or sum(betas) <= 0:
            raise ConfigError(
                f"loss betas={betas!r} must be non-negative with a positive sum, one per output scale"
            )
        if not float(flux_weight) >= 0.0:
            raise ConfigError(f"loss flux_weight={flux_weight!r} must be >= 0")
        self.alpha = float(alpha)
        self.betas = betas
        self.scale = scale
        self.flux_weight = float(flux_weight)

    def forward(self, outputs: dict, batch: dict) -> dict[str, torch.Tensor]:
        """Returns ``{"loss", "l1", "bce", "l1_x2", "l1_x4", "l1_x8", ...}`` (parts detached)."""
        hr = batch["hr"]
        mask = _valid_mask(batch, hr)
        pyramid = outputs.get("sr_pyramid") or [outputs["sr"]]
        if len(pyramid) != len(self.betas):
            raise ConfigError(
                f"loss betas has {len(self.betas)} weights but the model returns {len(pyramid)} scales"
            )
        parts: dict[str, torch.Tensor] = {}
        recon = hr.new_zeros(())
        for beta, sr_j in zip(self.betas, pyramid):
            factor = hr.shape[-1] // sr_j.shape[-1]
            target, mask_j = area_average_radiance(hr, mask, factor)
            l1 = masked_l1(sr_j, target, mask_j)
            parts[f"l1_x{self.scale // factor}"] = l1.detach()
            recon = recon + beta * l1
        bce = hr.new_zeros(())
        logits = outputs.get("isp_logits") or []
        isp = batch.get("isp")
        if logits and isp is not None:
            isp_present = torch.isfinite(isp).to(hr.dtype)
            if batch.get("present") is not None:
                isp_present = isp_present * batch["present"][:, 3].to(hr.dtype).view(-1, 1, 1, 1)
            isp_clean = torch.nan_to_num(isp.float(), nan=0.0).clamp(0, 1)
            for beta, logit_j in zip(self.betas, logits):
                factor = isp.shape[-1] // logit_j.shape[-1]
                target = F.avg_pool2d(isp_clean * isp_present, factor) / F.avg_pool2d(
                    isp_present, factor
                ).clamp_min(1e-6)
                mask_j = (F.avg_pool2d(isp_present, factor) >= MIN_VALID_SHARE).to(hr.dtype)
                per_pixel = F.binary_cross_entropy_with_logits(
                    logit_j.float(), target.clamp(0, 1), reduction="none"
                )
                bce = bce + beta * (per_pixel * mask_j).sum() / mask_j.sum().clamp_min(1.0)
        loss = self.alpha * recon + (1 - self.alpha) * bce
        if self.flux_weight > 0:
            flux = flux_loss(outputs["sr"], hr, mask, self.scale)
            parts["flux"] = flux.detach()
            loss = loss + self.flux_weight * flux
        return {"loss": loss, "l1": recon.detach(), "bce": bce.detach(), **parts}


def flux_loss(sr: torch.Tensor, hr: torch.Tensor, mask: torch.Tensor, scale: int = 8) -> torch.Tensor:
    """Mean over samples of the relative cell L1 plus the relative total error, in linear radiance.

    Args:
        sr, hr: (B, 1, H, W) normalised radiance (HR NaN allowed where ``mask`` is 0).
        mask: (B, 1, H, W) validity.
        scale: cell size.
    """
    r_hr = denormalize_radiance(torch.nan_to_num(hr.float(), nan=0.0).clamp(0, 1)) * mask
    r_sr = denormalize_radiance(sr.float().clamp(0, 1)) * mask
    cells_hr, cells_sr = F.avg_pool2d(r_hr, scale), F.avg_pool2d(r_sr, scale)
    cell_mask = (F.avg_pool2d(mask, scale) >= MIN_VALID_SHARE).to(cells_hr.dtype)
    total_hr = (cells_hr * cell_mask).flatten(1).sum(1)
    total_sr = (cells_sr * cell_mask).flatten(1).sum(1)
    cell_l1 = ((cells_sr - cells_hr).abs() * cell_mask).flatten(1).sum(1)
    norm = total_hr + 1.0  # radiance x cells; keeps all-dark samples finite
    return (cell_l1 / norm + (total_sr - total_hr).abs() / norm).mean()


DEEPLIGHT_ONLY_KEYS = ("alpha", "betas", "flux_weight")


def build_loss(model_name: str, model: nn.Module | None = None, **kwargs) -> nn.Module:
    """The loss for a registered model: :class:`DeepLightLoss` for the "deeplight" family, else L1.

    Args:
        model_name: registry name (used for the family when ``model`` is None).
        model: the built model (its ``family`` attribute decides).
        kwargs: ``alpha``, ``betas`` for DeepLightSR; ignored for baselines (plain L1 has none).

    Raises:
        ConfigError: an unknown keyword (the message lists the valid ones).
    """
    unknown = sorted(set(kwargs) - set(DEEPLIGHT_ONLY_KEYS))
    if unknown:
        raise ConfigError(f"unknown loss option(s) {unknown}; valid: {list(DEEPLIGHT_ONLY_KEYS)}")
    if model is not None:
        family = getattr(model, "family", None)
    else:
        family = model_family(model_name)
    if family == "deeplight":
        return DeepLightLoss(**kwargs)
    return L1Loss()
