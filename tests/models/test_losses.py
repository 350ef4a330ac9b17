"""The DeepLight multi-scale loss and the baselines' masked L1."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from deeplight.contracts import denormalize_radiance, normalize_radiance
from deeplight.errors import ConfigError
from deeplight.models.registry import get_model
from deeplight.train.losses import DeepLightLoss, L1Loss, area_average_radiance, build_loss

from .helpers import tiny_batch


def _perfect_outputs(batch):
    hr = batch["hr"]
    pyramid = [area_average_radiance(hr, torch.ones_like(hr), f)[0] for f in (4, 2, 1)]
    return {"sr": pyramid[-1], "sr_pyramid": pyramid, "isp_logits": []}


def test_area_average_is_in_linear_radiance():
    hr = normalize_radiance(torch.tensor([[[[0.0, 100.0], [0.0, 0.0]]]]))
    coarse, mask = area_average_radiance(hr, torch.ones_like(hr), 2)
    torch.testing.assert_close(denormalize_radiance(coarse), torch.tensor([[[[25.0]]]]), rtol=1e-4, atol=1e-4)
    assert float(mask) == 1.0


def test_perfect_prediction_has_zero_reconstruction_loss():
    batch = tiny_batch(2, 4, 4)
    parts = DeepLightLoss()(_perfect_outputs(batch), batch)
    assert float(parts["l1"]) < 1e-6 and float(parts["loss"]) < 1e-6


def test_weights_follow_alpha_and_betas():
    batch = tiny_batch(1, 4, 4)
    outputs = {
        "sr_pyramid": [torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 32, 32)],
        "isp_logits": [torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 32, 32)],
    }
    outputs["sr"] = outputs["sr_pyramid"][-1]
    parts = DeepLightLoss(alpha=0.7, betas=(0.1, 0.2, 0.7))(outputs, batch)
    recon = 0.1 * parts["l1_x2"] + 0.2 * parts["l1_x4"] + 0.7 * parts["l1_x8"]
    torch.testing.assert_close(parts["l1"], recon)
    torch.testing.assert_close(parts["loss"], 0.7 * recon + 0.3 * parts["bce"])
    # logits 0 -> BCE = ln 2 whatever the target
    torch.testing.assert_close(
        parts["bce"], torch.tensor(float(torch.log(torch.tensor(2.0)))), rtol=1e-5, atol=1e-6
    )


def test_invalid_pixels_and_missing_isp_are_masked():
    batch = tiny_batch(2, 4, 4)
    outputs = _perfect_outputs(batch)
    corrupted = dict(batch)
    corrupted["hr"] = batch["hr"].clone()
    corrupted["hr"][:, :, :8, :8] = float("nan")
    corrupted["valid"] = torch.isfinite(corrupted["hr"]).float()
    parts = DeepLightLoss()(outputs, corrupted)
    assert torch.isfinite(parts["loss"]) and float(parts["l1_x8"]) < 1e-6
    # ISP absent for every sample: no BCE even with logits and a target tensor present
    no_isp = {**batch, "present": torch.tensor([[1.0, 1, 1, 0], [1.0, 1, 1, 0]])}
    logits = {
        **outputs,
        "isp_logits": [torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 32, 32)],
    }
    assert float(DeepLightLoss()(logits, no_isp)["bce"]) == 0.0


def test_l1_loss_is_masked_mean():
    batch = tiny_batch(1, 2, 2)
    batch["valid"][..., :8] = 0
    sr = batch["hr"] + 0.25
    sr[..., :8] = 10.0  # ignored
    parts = L1Loss()({"sr": sr}, batch)
    torch.testing.assert_close(parts["loss"], torch.tensor(0.25))


def test_build_loss_picks_by_family_and_rejects_unknown_options():
    assert isinstance(build_loss("deeplightsr", get_model("deeplightsr", preset="tiny")), DeepLightLoss)
    assert isinstance(build_loss("edsr", get_model("edsr", preset="tiny"), alpha=0.5), L1Loss)
    assert isinstance(build_loss("rcan"), L1Loss)
    with pytest.raises(
        ConfigError, match=r"unknown loss option\(s\) \['gamma'\]; valid: \['alpha', 'betas', 'flux_weight'\]"
    ):
        build_loss("deeplightsr", gamma=1.0)
    with pytest.raises(ConfigError, match="alpha"):
        DeepLightLoss(alpha=1.5)
    with pytest.raises(ConfigError, match="betas"):
        DeepLightLoss(betas=(-1.0, 1.0, 1.0))


def test_betas_must_match_the_scales():
    batch = tiny_batch(1, 4, 4)
    with pytest.raises(ConfigError, match="2 weights but the model returns 3 scales"):
        DeepLightLoss(betas=(0.5, 0.5))(_perfect_outputs(batch), batch)


def _learnable_batch() -> dict:
    """A smooth scene whose HR and ISP are functions of the DMO."""
    batch = tiny_batch(2, 4, 4)
    batch["dmo"] = F.interpolate(torch.rand(2, 7, 4, 4), size=(32, 32), mode="bilinear", align_corners=False)
    batch["hr"] = 0.3 * batch["dmo"][:, :1] + 0.2
    batch["isp"] = (batch["dmo"][:, 1:2] > 0.5).float()
    return batch


def _train(loss_fn, steps: int) -> list[dict[str, float]]:
    torch.manual_seed(0)
    model = get_model("deeplightsr", preset="tiny")
    batch = _learnable_batch()
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    history = []
    for _ in range(steps):
        optimiser.zero_grad()
        parts = loss_fn(model(batch), batch)
        parts["loss"].backward()
        optimiser.step()
        history.append({k: float(v.detach()) for k, v in parts.items()})
    return history


def test_training_deeplightsr_with_its_loss_lowers_it():
    history = _train(build_loss("deeplightsr", get_model("deeplightsr", preset="tiny")), 60)
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["l1"] < 0.3 * history[0]["l1"]


def test_isp_heads_learn_from_the_bce_term():
    history = _train(DeepLightLoss(alpha=0.0), 40)
    assert history[-1]["bce"] < 0.8 * history[0]["bce"]
