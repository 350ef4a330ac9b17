"""Metrics against independent references (scikit-image, hand-computed Wang-Bovik Q, PIQE behaviour)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio as sk_psnr
from skimage.metrics import structural_similarity as sk_ssim

from deeplight.contracts import normalize_radiance
from deeplight.eval import metrics


def _pair(shape=(64, 72), noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    hr = 0.5 + 0.3 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    sr = np.clip(hr + noise * rng.standard_normal(shape), 0, 1)
    return sr, hr


def test_psnr_equals_scikit_image_on_cropped_arrays():
    sr, hr = _pair()
    b = metrics.BORDER_PX
    expected = sk_psnr(hr[b:-b, b:-b], sr[b:-b, b:-b], data_range=1.0)
    assert metrics.psnr(sr, hr) == pytest.approx(expected, rel=1e-6)


def test_ssim_equals_scikit_image_on_cropped_arrays():
    sr, hr = _pair()
    b = metrics.BORDER_PX
    expected = sk_ssim(
        hr[b:-b, b:-b], sr[b:-b, b:-b], data_range=1.0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False,
    )
    assert metrics.ssim(sr, hr) == pytest.approx(expected, abs=1e-6)


def test_uiqi_equals_wang_bovik_formula_by_hand():
    sr, hr = _pair(shape=(13, 12), noise=0.1, seed=3)
    # Hand computation of Q on every 11x11 Gaussian window (sigma 1.5), loops only.
    k = 11
    c = np.arange(k) - 5.0
    g = np.exp(-(c**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    qs = []
    for i in range(sr.shape[0] - k + 1):
        for j in range(sr.shape[1] - k + 1):
            x, y = sr[i : i + k, j : j + k], hr[i : i + k, j : j + k]
            mx, my = (w * x).sum(), (w * y).sum()
            vx, vy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
            cxy = (w * (x - mx) * (y - my)).sum()
            qs.append(4 * cxy * mx * my / ((vx + vy) * (mx**2 + my**2)))
    assert metrics.uiqi(sr, hr, border=0) == pytest.approx(np.mean(qs), abs=1e-9)


def test_uiqi_matches_torchmetrics_on_fully_valid_images():
    from torchmetrics.functional.image import universal_image_quality_index

    sr, hr = _pair(shape=(40, 40))
    ours = metrics.uiqi(sr, hr, border=0)
    x = torch.tensor(sr)[None, None]
    y = torch.tensor(hr)[None, None]
    # torchmetrics averages the map over the interior (kernel half-width cropped), as we do.
    theirs = float(universal_image_quality_index(x, y))
    assert ours == pytest.approx(theirs, abs=2e-3)


def test_identical_images_are_perfect():
    _, hr = _pair()
    assert metrics.psnr(hr, hr) == math.inf or metrics.psnr(hr, hr) > 100
    assert metrics.ssim(hr, hr) == pytest.approx(1.0)
    assert metrics.uiqi(hr, hr) == pytest.approx(1.0)
    assert metrics.correlation(hr, hr) == pytest.approx(1.0)


def test_valid_mask_excludes_nodata_pixels():
    sr, hr = _pair()
    hr_nan = hr.copy()
    sr_bad = sr.copy()
    hr_nan[30:40, 30:40] = np.nan
    sr_bad[30:40, 30:40] = 5.0  # garbage where HR is nodata must not count
    mask = np.isfinite(hr_nan)
    b = metrics.BORDER_PX
    m = mask[b:-b, b:-b]
    expected = sk_psnr(hr[b:-b, b:-b][m], sr[b:-b, b:-b][m], data_range=1.0)
    assert metrics.psnr(sr_bad, hr_nan) == pytest.approx(expected, rel=1e-6)
    assert np.isfinite(metrics.ssim(sr_bad, hr_nan))
    assert metrics.ssim(sr_bad, hr_nan) <= 1.0


def test_correlation_is_pearson():
    sr, hr = _pair()
    b = metrics.BORDER_PX
    expected = np.corrcoef(sr[b:-b, b:-b].ravel(), hr[b:-b, b:-b].ravel())[0, 1]
    assert metrics.correlation(sr, hr) == pytest.approx(expected, abs=1e-12)


def test_sam_is_not_applicable_for_one_band_and_defined_for_several():
    x = torch.rand(1, 8, 8)
    assert math.isnan(metrics.spectral_angle(x, x))
    a = torch.zeros(2, 4, 4)
    a[0] = 1.0
    bb = torch.zeros(2, 4, 4)
    bb[1] = 1.0
    assert metrics.spectral_angle(a, bb) == pytest.approx(math.pi / 2)
    assert math.isnan(metrics.image_metrics(*_pair())["sam"])


def test_piqe_is_bounded_and_rises_with_noise_and_blockiness():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(1)
    texture = gaussian_filter(rng.standard_normal((128, 128)), 1.0)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    scores = [
        metrics.piqe(np.clip(texture + s * rng.standard_normal(texture.shape), 0, 1)) for s in (0.0, 0.05, 0.1, 0.2)
    ]
    assert all(0.0 <= v <= 100.0 for v in scores)
    assert scores == sorted(scores) and scores[0] < scores[-1] - 30
    # Blockiness: 8x8 block means (the look of nearest-neighbour upsampling or JPEG blocks).
    blocky = texture.reshape(16, 8, 16, 8).mean(axis=(1, 3)).repeat(8, 0).repeat(8, 1)
    assert metrics.piqe(blocky) > scores[0] + 30
    assert 0.0 <= metrics.piqe(blocky) <= 100.0
    assert metrics.piqe(np.zeros((32, 32))) == 100.0  # no active block: the worst score


def test_flux_consistency_zero_for_flux_conserving_sr():
    radiance = np.random.default_rng(0).uniform(0, 50, size=(32, 32))
    hr = normalize_radiance(radiance)
    assert metrics.flux_consistency(hr, metrics.coarse_flux(hr)) == pytest.approx(0.0, abs=1e-9)
    doubled = normalize_radiance(2 * radiance)
    assert metrics.flux_consistency(doubled, metrics.coarse_flux(hr)) == pytest.approx(1.0, rel=1e-6)


def test_indicator_fidelity_f1_iou_and_lit_area():
    radiance_hr = np.zeros((40, 40))
    radiance_hr[10:20, 10:30] = 50.0  # urban, 200 px inside the crop
    radiance_sr = np.zeros((40, 40))
    radiance_sr[10:20, 10:20] = 50.0  # half of it
    res = metrics.indicator_fidelity(normalize_radiance(radiance_sr), normalize_radiance(radiance_hr))
    assert res["urban_iou"] == pytest.approx(0.5)
    assert res["urban_f1"] == pytest.approx(2 / 3)
    assert res["lit_area_error"] == pytest.approx(-0.5)


def test_shape_errors_name_the_arrays():
    with pytest.raises(ValueError, match="sr .* and hr .* must have the same shape"):
        metrics.psnr(np.zeros((32, 32)), np.zeros((32, 40)))
    with pytest.raises(ValueError, match="too small"):
        metrics.psnr(np.zeros((10, 10)), np.zeros((10, 10)))
