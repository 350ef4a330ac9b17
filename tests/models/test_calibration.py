"""Radiometric calibration: DeepLightSR's per-scene stage and the calibration-based baselines."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from deeplight.contracts import denormalize_radiance, normalize_dn, normalize_radiance, radiance_to_nominal_dn
from deeplight.errors import DeepLightError
from deeplight.models.baselines.calibration_based import lr_targets
from deeplight.models.calibration import SceneCalibration
from deeplight.models.radiometry import normalised_dn_to_normalised_radiance, normalised_dn_to_radiance
from deeplight.models.registry import get_model


def test_nominal_inverse_matches_the_degradation_models_response():
    radiance = torch.tensor([0.5, 1.0, 5.0, 20.0, 45.0])
    dn = normalize_dn(radiance_to_nominal_dn(radiance))
    torch.testing.assert_close(normalised_dn_to_radiance(dn), radiance, rtol=1e-4, atol=1e-4)


def test_learned_calibration_starts_at_the_nominal_response():
    lr = torch.rand(2, 1, 5, 5)
    learned = SceneCalibration("learned")(lr)
    torch.testing.assert_close(learned, SceneCalibration("fixed")(lr), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(SceneCalibration("none")(lr), lr)


@pytest.mark.parametrize("bound", [None, 1.25])
def test_learned_calibration_recovers_a_gain_drift_up_to_its_bound(bound):
    """A scene 2x brighter than nominal: a few steps of training learn the per-scene gain, unbounded
    (the paper's formulation) or up to the scene-total bound, where it stops exactly."""
    torch.manual_seed(0)
    calib = SceneCalibration("learned", hidden=8, max_total_ratio=bound)
    lr = torch.rand(4, 1, 8, 8).clamp(0.05, 0.9)
    target = normalize_radiance(2.0 * normalised_dn_to_radiance(lr))
    optimiser = torch.optim.Adam(calib.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        optimiser.zero_grad()
        loss = (calib(lr) - target).abs().mean()
        first = float(loss.detach()) if first is None else first
        loss.backward()
        optimiser.step()
    if bound is None:
        assert float(loss.detach()) < 0.2 * first
    else:
        with torch.no_grad():
            total = denormalize_radiance(calib(lr)).sum((1, 2, 3)) / normalised_dn_to_radiance(lr).sum((1, 2, 3))
        torch.testing.assert_close(total, torch.full_like(total, bound), rtol=1e-3, atol=0)


def _pairs(gain: float = 1.0, seed: int = 0):
    """LR DN and HR normalised radiance whose 8x8 block means follow the nominal response x gain."""
    gen = torch.Generator().manual_seed(seed)
    lr = torch.rand(3, 1, 6, 6, generator=gen) * 0.9 + 0.05
    block_radiance = gain * normalised_dn_to_radiance(lr)
    pattern = 0.5 + torch.rand(3, 1, 48, 48, generator=gen)
    pattern = pattern / F.interpolate(F.avg_pool2d(pattern, 8), scale_factor=8)
    hr = normalize_radiance(F.interpolate(block_radiance, scale_factor=8) * pattern)
    return lr, hr


def test_lr_targets_average_in_linear_radiance_and_mask_invalid_blocks():
    lr, hr = _pairs()
    hr[0, 0, :8, :8] = float("nan")
    _, y, weight = lr_targets(lr, hr, None, 8)
    expected = normalize_radiance(normalised_dn_to_radiance(lr)).flatten()
    keep = weight > 0
    assert int((~keep).sum()) == 1
    torch.testing.assert_close(y[keep], expected[keep], rtol=1e-4, atol=1e-5)
    with pytest.raises(DeepLightError, match="expected 8x the lr shape"):
        lr_targets(lr, hr[..., :40], None, 8)


def test_quadratic_fit_is_least_squares_on_block_means():
    lr, hr = _pairs(gain=1.5)
    model = get_model("quadratic-calibration")
    coefficients = model.fit_calibration(lr, hr)
    assert set(coefficients) == {"c0", "c1", "c2"}
    x, y, _ = lr_targets(lr, hr, None, 8)
    design = torch.stack([torch.ones_like(x), x, x * x], 1).double()
    residual_fit = (design @ model.coefficients.detach().double() - y.double()).square().mean()
    perturbed = model.coefficients.detach().double() + torch.tensor([0.01, -0.01, 0.01], dtype=torch.float64)
    assert residual_fit < (design @ perturbed - y.double()).square().mean()


@pytest.mark.parametrize("name", ["sigmoid-calibration", "gaussian-deblur", "quadratic-calibration"])
def test_fitting_lowers_the_error_on_drifted_pairs(name):
    lr, hr = _pairs(gain=3.0, seed=1)
    model = get_model(name)
    with torch.no_grad():
        before = float((model({"lr": lr})["sr"] - hr).abs().mean())
    model.fit_calibration(lr, hr, steps=150)
    with torch.no_grad():
        after = float((model({"lr": lr})["sr"] - hr).abs().mean())
    assert after < 0.7 * before


def test_gaussian_deblurring_sharpens_a_blurred_point():
    model = get_model("gaussian-deblur")
    with torch.no_grad():
        model.log_lambda.fill_(float(torch.log(torch.tensor(1e-3))))
    point = torch.zeros(1, 1, 15, 15)
    point[..., 7, 7] = 1.0
    grid = torch.arange(15.0) - 7
    gauss = torch.exp(-(grid[:, None] ** 2 + grid[None, :] ** 2) / 2)  # sigma = 1 LR pixel
    blurred = F.conv2d(F.pad(point, (7, 7, 7, 7)), (gauss / gauss.sum()).view(1, 1, 15, 15))
    radiance = 40 * blurred
    lr = normalize_dn(radiance_to_nominal_dn(radiance))
    with torch.no_grad():
        restored = denormalize_radiance(model.calibrate(lr))
    naive = denormalize_radiance(normalised_dn_to_normalised_radiance(lr))

    # the deblurred peak holds a larger share of the total radiance than the blurred one
    def peak_share(x: torch.Tensor) -> float:
        return float(x[..., 7, 7] / x.sum())

    assert peak_share(restored) > 1.5 * peak_share(naive)
