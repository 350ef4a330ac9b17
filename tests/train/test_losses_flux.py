"""The flux term of the DeepLight loss (linear radiance: sums of lights, not only log-scale L1)."""

from __future__ import annotations

import pytest
import torch

from deeplight.contracts import normalize_radiance
from deeplight.errors import ConfigError
from deeplight.train.losses import DeepLightLoss, flux_loss


def _image(radiance: torch.Tensor) -> torch.Tensor:
    return normalize_radiance(radiance)[None, None]


def test_flux_loss_is_zero_for_equal_cells_and_grows_with_a_wrong_total():
    torch.manual_seed(0)
    hr = torch.rand(16, 16) * 20
    mask = torch.ones(1, 1, 16, 16)
    # the same cell means with another pattern inside each cell: no flux error
    shuffled = hr.view(2, 8, 2, 8).flip(1).reshape(16, 16)
    assert float(flux_loss(_image(shuffled), _image(hr), mask)) < 1e-5
    half = float(flux_loss(_image(hr * 0.5), _image(hr), mask))
    assert half == pytest.approx(1.0, rel=0.05)  # 50% cell L1 + 50% total error


def test_deeplight_loss_adds_the_flux_term_only_when_weighted():
    torch.manual_seed(1)
    hr = _image(torch.rand(16, 16) * 10)
    sr = _image(torch.rand(16, 16) * 10)
    outputs = {"sr": sr, "sr_pyramid": [sr[..., ::4, ::4], sr[..., ::2, ::2], sr]}
    batch = {"hr": hr}
    plain = DeepLightLoss()(outputs, batch)
    weighted = DeepLightLoss(flux_weight=0.1)(outputs, batch)
    assert "flux" not in plain and "flux" in weighted
    assert float(weighted["loss"]) == pytest.approx(float(plain["loss"]) + 0.1 * float(weighted["flux"]), rel=1e-5)
    with pytest.raises(ConfigError, match="flux_weight"):
        DeepLightLoss(flux_weight=-1)
