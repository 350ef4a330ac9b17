"""The flux-consistent output option: 8x8 block means of SR radiance equal the calibrated LR."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from deeplight.contracts import denormalize_radiance
from deeplight.models.flux import flux_consistent, flux_error
from deeplight.models.registry import get_model

from .helpers import tiny_batch


def _block_relative_error(sr: torch.Tensor, lr_cal: torch.Tensor) -> float:
    pooled = F.avg_pool2d(denormalize_radiance(sr.double()), 8)
    target = denormalize_radiance(lr_cal.double())
    return float(((pooled - target).abs() / target.clamp_min(1e-3)).max())


def test_deeplightsr_flux_option_holds_to_1e_4():
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny", flux_consistent=True).eval()
    batch = tiny_batch(2, 5, 6)
    batch["lr"][0, 0, 0, 0] = 0.0  # a dark pixel
    batch["lr"][1, 0, 1, 1] = 1.0  # a saturated one
    with torch.no_grad():
        out = model(batch)
    assert float(flux_error(out["sr"], out["lr_calibrated"])) < 1e-4
    assert _block_relative_error(out["sr"], out["lr_calibrated"]) < 1e-4
    assert out["sr_pyramid"][-1] is out["sr"]


def test_without_the_option_flux_drifts():
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny", flux_consistent=False).eval()
    with torch.no_grad():
        for p in model.parameters():  # the residual heads start at zero: move off the baseline
            p.add_(0.05 * torch.randn_like(p))
        out = model(tiny_batch(2, 5, 6))
    assert float(flux_error(out["sr"], out["lr_calibrated"])) > 1e-3


def test_projection_keeps_the_pattern_within_blocks_and_is_non_negative():
    sr = torch.rand(1, 1, 16, 16) * 0.5
    lr = torch.rand(1, 1, 2, 2) * 0.5
    projected = flux_consistent(sr, lr)
    assert torch.all(projected >= 0)
    ratio = denormalize_radiance(projected.double()) / (denormalize_radiance(sr.double()) + 1e-6)
    # inside one block the ratio is one constant
    block = ratio[0, 0, :8, :8]
    torch.testing.assert_close(block, torch.full_like(block, float(block[0, 0])), rtol=1e-5, atol=0)


def test_projection_is_differentiable():
    sr = (torch.rand(1, 1, 8, 8) * 0.5).requires_grad_()
    flux_consistent(sr, torch.full((1, 1, 1, 1), 0.3)).sum().backward()
    assert torch.isfinite(sr.grad).all() and sr.grad.abs().sum() > 0
