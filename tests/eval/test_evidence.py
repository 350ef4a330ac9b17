"""Evidence measures (deeplight/eval/evidence.py) on images made by code, with values known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deeplight.contracts import denormalize_radiance, normalize_radiance
from deeplight.eval import evidence

B = evidence.BORDER_PX


def _nearest_up(cells: np.ndarray, scale: int = 8) -> np.ndarray:
    return np.kron(cells, np.ones((scale, scale)))


def _power_law_field(n: int, beta: float, seed: int) -> np.ndarray:
    """Gaussian random field with isotropic power spectrum 1/f^beta, zero mean, unit std."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(n)[:, None], np.fft.fftfreq(n)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spectrum = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / f ** (beta / 2)
    spectrum[0, 0] = 0.0
    field = np.real(np.fft.ifft2(spectrum))
    return (field - field.mean()) / field.std()


def _natural_like(n: int = 128, seed: int = 0, beta: float = 2.0, contrast: float = 0.5) -> np.ndarray:
    """A natural-like night-light image: log-normal radiance over a power-law field. beta = 2 is the
    1/f amplitude spectrum of natural images (Field 1987); larger beta is smoother."""
    return normalize_radiance(3.0 * np.exp(contrast * _power_law_field(n, beta, seed)))


def _waffle(n: int = 128, period: int = 8) -> np.ndarray:
    """A separable 8-periodic bump pattern in 0..1 (what an LR-grid artefact looks like)."""
    profile = np.array([1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.5, 1.0])[:period]
    return np.tile(np.outer(profile, profile), (n // period, n // period))


# --- flux_error ---------------------------------------------------------------------------------


def test_flux_error_zero_when_sr_repeats_the_calibrated_lr():
    rng = np.random.default_rng(0)
    lr = normalize_radiance(rng.uniform(0, 50, (16, 16)))
    out = evidence.flux_error(_nearest_up(lr), lr)
    assert out["flux_error"] == pytest.approx(0.0, abs=1e-12)
    assert out["flux_error_max_cell"] == pytest.approx(0.0, abs=1e-12)


def test_flux_error_zero_when_flux_is_only_redistributed_within_cells():
    radiance = np.full((16, 16), 4.0)
    lr = normalize_radiance(radiance)
    half = np.zeros((8, 8))
    half[:, :4] = 8.0  # half the pixels of each cell carry twice the mean, the rest none
    sr = normalize_radiance(np.tile(half, (16, 16)))
    out = evidence.flux_error(sr, lr)
    assert out["flux_error"] == pytest.approx(0.0, abs=1e-12)
    assert out["flux_error_max_cell"] == pytest.approx(0.0, abs=1e-12)


def test_flux_error_doubled_radiance_is_100_percent():
    radiance = np.random.default_rng(1).uniform(1, 20, (16, 16))
    out = evidence.flux_error(normalize_radiance(_nearest_up(2 * radiance)), normalize_radiance(radiance))
    assert out["flux_error"] == pytest.approx(1.0, rel=1e-9)
    assert out["flux_error_max_cell"] == pytest.approx(1.0, rel=1e-9)


def test_flux_error_mean_and_worst_cell_by_hand():
    radiance = np.full((6, 6), 10.0)
    radiance[2, 2] = 0.2  # a dark cell: counts in the relative L1, not in the worst cell
    sr_rad = radiance.copy()
    sr_rad[2, 3] = 11.0  # +10% in one bright cell
    sr_rad[2, 2] = 0.4  # +100% in the dark cell
    out = evidence.flux_error(normalize_radiance(_nearest_up(sr_rad)), normalize_radiance(radiance))
    inner = radiance[1:-1, 1:-1]  # the 8-px border = one LR cell on each side
    assert out["flux_error"] == pytest.approx((1.0 + 0.2) / inner.sum(), rel=1e-9)
    assert out["flux_error_max_cell"] == pytest.approx(0.1, rel=1e-9)
    assert out["flux_total"] == pytest.approx(inner.sum(), rel=1e-9)


def test_flux_error_skips_cells_with_invalid_pixels_and_equals_the_training_metric():
    from deeplight.models.flux import flux_error as training_flux_error

    rng = np.random.default_rng(2)
    lr = normalize_radiance(rng.uniform(0, 30, (8, 8)))
    sr = normalize_radiance(rng.uniform(0, 30, (64, 64)))
    ours = evidence.flux_error(sr, lr, border=0)["flux_error"]
    theirs = float(training_flux_error(torch.tensor(sr)[None, None], torch.tensor(lr)[None, None]))
    assert ours == pytest.approx(theirs, rel=1e-9)
    # a cell with one invalid HR pixel leaves the sum; SR wrong only there -> error 0
    sr_ok = _nearest_up(lr)
    sr_ok[16:24, 16:24] = normalize_radiance(500.0)
    valid = np.ones((64, 64))
    valid[21, 22] = 0  # inside the cell (2, 2)
    assert evidence.flux_error(sr_ok, lr, valid=valid)["flux_error"] == pytest.approx(0.0, abs=1e-12)
    assert evidence.flux_error(sr_ok, lr)["flux_error"] > 0.1


def test_flux_error_rejects_bad_shapes():
    with pytest.raises(ValueError, match="8x"):
        evidence.flux_error(np.zeros((64, 64)), np.zeros((7, 8)))
    with pytest.raises(ValueError, match="valid"):
        evidence.flux_error(np.zeros((64, 64)), np.zeros((8, 8)), valid=np.ones((32, 32)))
    with pytest.raises(ValueError, match="one image"):
        evidence.flux_error(np.zeros((2, 1, 64, 64)), np.zeros((8, 8)))


# --- lit area, dark floor ------------------------------------------------------------------------


def test_lit_area_error_by_hand():
    hr_rad = np.full((48, 48), 0.1)
    hr_rad[8:40, 8:16] = 5.0  # 32 x 8 lit pixels inside the crop (32 x 32)
    sr_rad = np.full((48, 48), 0.1)
    sr_rad[8:40, 8:24] = 5.0  # twice as many
    sr, hr = normalize_radiance(sr_rad), normalize_radiance(hr_rad)
    assert evidence.lit_area_error(sr, hr) == pytest.approx(1.0)
    assert evidence.lit_area_error(hr, hr) == 0.0
    assert evidence.lit_area_error(normalize_radiance(np.full((48, 48), 0.1)), hr) == pytest.approx(-1.0)
    assert math.isnan(evidence.lit_area_error(sr, hr, tau=10.0))  # HR has no lit pixel at 10 nW
    # tau counts: 0.8 nW is lit at tau 0.5, not at the default 1.0
    dim = normalize_radiance(np.full((48, 48), 0.8))
    assert evidence.lit_area_error(dim, hr, tau=0.5) == pytest.approx(1024 / 256 - 1)


def test_dark_floor_by_hand_and_valid_mask():
    hr_rad = np.zeros((48, 48))
    hr_rad[:, 24:] = 10.0
    sr_rad = np.where(hr_rad > 0, 10.0, 0.3)
    sr_rad[10, 10] = 5.3  # one bright pixel over dark land
    sr, hr = normalize_radiance(sr_rad), normalize_radiance(hr_rad)
    n_dark = 32 * 16  # cropped 32 rows x dark columns 8..23
    assert evidence.dark_floor(sr, hr) == pytest.approx((0.3 * (n_dark - 1) + 5.3) / n_dark, rel=1e-9)
    valid = np.ones((48, 48))
    valid[10, 10] = 0
    assert evidence.dark_floor(sr, hr, valid=valid) == pytest.approx(0.3, rel=1e-9)
    assert evidence.dark_floor(hr, hr) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(evidence.dark_floor(sr, normalize_radiance(np.full((48, 48), 9.0))))
    with pytest.raises(ValueError, match="same shape"):
        evidence.dark_floor(sr, hr[:40])


# --- period-8 peak -------------------------------------------------------------------------------


def test_period8_peak_is_about_zero_on_white_noise():
    for seed in range(3):
        noise = np.random.default_rng(seed).standard_normal((256, 256))
        assert abs(evidence.period8_peak_db(noise)) < 0.6
        assert abs(evidence.period8_peak_db(noise, harmonics=evidence.ALL_HARMONICS)) < 1.0


def test_period8_peak_is_about_zero_on_a_smooth_natural_like_image():
    for seed in range(3):
        image = _natural_like(seed=seed)
        assert abs(evidence.period8_peak_db(image)) < 1.0
        assert abs(evidence.period8_peak_db(image, harmonics=evidence.ALL_HARMONICS)) < 1.0
        # a smoother (steeper) spectrum: the mean of the neighbours sits a little above the
        # spectrum's value at 1/8 (convexity), so slightly negative, never a peak
        smooth = _natural_like(seed=seed, beta=3.0, contrast=0.7)
        assert -1.5 < evidence.period8_peak_db(smooth) < 0.5


def test_period8_peak_is_large_with_an_added_8_periodic_pattern():
    image = _natural_like(seed=0)
    assert evidence.period8_peak_db(image + 0.1 * _waffle()) > 7.0
    assert evidence.period8_peak_db(_natural_like(seed=0, beta=3.0, contrast=0.7) + 0.05 * _waffle()) > 6.0
    # a pattern along x only counts on the rows' axis only: about half of it in the mean of both
    yy, xx = np.mgrid[0:128, 0:128]
    stripes = image + 0.05 * np.cos(2 * np.pi * xx / 8)
    assert evidence.period8_peak_db(stripes) > 4.0
    assert evidence.period8_peak_db(stripes.T) == pytest.approx(evidence.period8_peak_db(stripes), abs=1.0)
    # a period-4 pattern (the 2/8 harmonic) is seen only with the harmonics
    quads = image + 0.05 * np.cos(2 * np.pi * xx / 4) * np.cos(2 * np.pi * yy / 4)
    assert evidence.period8_peak_db(quads) < 1.0
    assert evidence.period8_peak_db(quads, harmonics=evidence.ALL_HARMONICS) > 7.0


def test_period8_peak_ignores_invalid_pixels_and_constant_images():
    image = _natural_like(seed=1)
    holed = image.copy()
    valid = np.ones_like(image)
    holed[40:60, 30:50] = np.nan
    valid[40:60, 30:50] = 0
    assert abs(evidence.period8_peak_db(holed, valid=valid)) < 1.5
    assert evidence.period8_peak_db(np.full((64, 64), 0.3)) == 0.0


def test_period8_peak_rejects_bad_shapes():
    with pytest.raises(ValueError, match="one image"):
        evidence.period8_peak_db(np.zeros(128))
    with pytest.raises(ValueError, match="too small"):
        evidence.period8_peak_db(np.random.default_rng(0).random((24, 24)))
    with pytest.raises(ValueError, match="valid"):
        evidence.period8_peak_db(np.zeros((64, 64)), valid=np.ones((64, 32)))


# --- cap -----------------------------------------------------------------------------------------


def test_cap_violation_scalar_full_and_lr_grid_maps():
    sr = np.full((48, 48), 0.4)
    sr[10:12, 10:20] = 0.9  # 20 pixels above 0.5, inside the crop
    n = 32 * 32
    assert evidence.cap_violation(sr, 0.5) == pytest.approx(20 / n)
    assert evidence.cap_violation(sr, torch.tensor(0.95)) == 0.0
    assert evidence.cap_violation(sr, np.full((48, 48), 0.5)) == pytest.approx(20 / n)
    cells = np.full((6, 6), 0.95)
    cells[1, 1] = 0.5  # HR rows/cols 8..15: holds 2 x 6 of the bright pixels
    assert evidence.cap_violation(sr, cells) == pytest.approx(12 / n)
    assert evidence.cap_violation(sr, 0.9) == 0.0  # equal is not above
    with pytest.raises(ValueError, match="cap"):
        evidence.cap_violation(sr, np.ones((5, 5)))


# --- rows ----------------------------------------------------------------------------------------


def test_evidence_row_of_a_perfect_reconstruction():
    hr = _natural_like(n=128, seed=2)
    radiance = denormalize_radiance(hr)
    lr_cal = normalize_radiance(radiance.reshape(16, 8, 16, 8).mean(axis=(1, 3)))
    row = evidence.evidence_row(hr, hr, lr_cal, np.ones_like(hr), cap=1.0, with_piqe=False)
    assert set(row) == set(evidence.EVIDENCE_KEYS)
    assert row["ssim"] == pytest.approx(1.0) and row["cc"] == pytest.approx(1.0)
    assert row["flux_error"] == pytest.approx(0.0, abs=1e-9)
    assert row["flux_error_hr"] == pytest.approx(0.0, abs=1e-9)
    assert row["flux_error_max_cell"] == pytest.approx(0.0, abs=1e-9)
    assert row["lit_area_error"] == 0.0 and row["cap_violation"] == 0.0
    assert row["lit_share"] == row["lit_share_hr"] > 0.5  # 3 exp(0.5 z) >= 1 nW for most pixels
    assert row["flux_total"] == pytest.approx(row["flux_hr_total"], rel=1e-9)
    ref = evidence.reference_row(hr, with_piqe=False)
    assert row["dark_floor"] == pytest.approx(ref["dark_floor"])
    assert row["period8_peak_db"] == pytest.approx(ref["period8_peak_db"])
    assert math.isnan(ref["psnr"]) and math.isnan(row["piqe"])


def test_evidence_row_of_a_waffled_reconstruction():
    hr = _natural_like(n=128, seed=3)
    lr_cal = normalize_radiance(denormalize_radiance(hr).reshape(16, 8, 16, 8).mean(axis=(1, 3)))
    sr = hr + 0.1 * _waffle()
    row = evidence.evidence_row(torch.tensor(sr)[None, None], torch.tensor(hr)[None, None], lr_cal)
    assert row["period8_peak_db"] > 7.0 > evidence.reference_row(hr)["period8_peak_db"] + 6.0
    assert row["flux_error"] > 0.05 and row["flux_error"] == pytest.approx(row["flux_error_hr"], rel=1e-6)
    assert evidence.dark_floor(sr, hr, dark=2.0) > evidence.dark_floor(hr, hr, dark=2.0)
    assert 0.0 <= row["piqe"] <= 100.0
    assert math.isnan(row["cap_violation"])


def test_evidence_row_rejects_bad_shapes():
    hr = np.zeros((64, 64))
    with pytest.raises(ValueError, match="same shape"):
        evidence.evidence_row(np.zeros((64, 56)), hr, np.zeros((8, 8)))
    with pytest.raises(ValueError, match="8x"):
        evidence.evidence_row(hr, hr, np.zeros((8, 7)))
    with pytest.raises(ValueError, match="one image"):
        evidence.evidence_row(np.zeros((2, 64, 64)), hr, np.zeros((8, 8)))
