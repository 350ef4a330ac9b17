"""degrade_dmsp_like: each step of the forward model does what SCIENCE.md section 2 says."""

from __future__ import annotations

import numpy as np
import pytest

from deeplight.data.degrade import (
    DegradationParams,
    degrade_dmsp_like,
    lr_dn_to_radiance,
    preset_params,
)
from deeplight.errors import ConfigError, RasterError


def _point_sources(size=128, values=(5.0, 500.0)):
    hr = np.zeros((size, size))
    hr[40:44, 40:44] = values[0]
    hr[84:88, 84:88] = values[1]
    return hr


def test_shapes_dtype_range_and_quantisation():
    hr = np.random.default_rng(0).gamma(0.5, 20.0, (64, 96))
    lr, info = degrade_dmsp_like(hr, seed=3)
    assert lr.shape == (8, 12) and lr.dtype == np.float32
    assert np.all((lr >= 0) & (lr <= 63)) and np.all(lr == np.round(lr))
    assert info.lr_radiance.shape == (8, 12) and info.params.preset == "realistic"
    assert info.to_tags()["simulated"] == "true"


def test_deterministic_by_seed():
    hr = np.random.default_rng(1).gamma(0.5, 20.0, (64, 64))
    a, info_a = degrade_dmsp_like(hr, seed=5)
    b, _ = degrade_dmsp_like(hr, seed=5)
    c, info_c = degrade_dmsp_like(hr, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert info_a.gain_drift != info_c.gain_drift


def test_flux_conserved_by_blur_and_aggregation():
    hr = np.random.default_rng(2).gamma(0.3, 30.0, (128, 128))
    params = preset_params("realistic", shift_sigma_lr=0.0, max_rotation_deg=0.0)
    _, info = degrade_dmsp_like(hr, params, seed=0)
    assert info.lr_radiance.sum() * 64 == pytest.approx(hr.sum(), rel=0.03)


def test_saturation_at_63_for_bright_sources():
    hr = np.full((128, 128), 0.1)
    hr[48:80, 48:80] = 400.0
    lr, info = degrade_dmsp_like(hr, seed=0)
    assert lr[7:9, 7:9].min() == 63.0
    assert info.saturated_fraction > 0
    assert lr[0, 0] < 10  # far from the city: dark


def test_blooming_grows_with_brightness():
    """The bright source spreads a larger share of its flux far away than the dim one."""
    params = preset_params(
        "realistic", shift_sigma_lr=0.0, max_rotation_deg=0.0, noise_sigma_dn=0.0, noise_relative=0.0
    )
    _, info = degrade_dmsp_like(_point_sources(), params, seed=0)
    lr_rad = info.lr_radiance
    dim_core, bright_core = lr_rad[5, 5], lr_rad[10, 10]
    dim_far, bright_far = lr_rad[5, 8], lr_rad[10, 13]  # 3 LR pixels away
    assert bright_far / bright_core > 2 * dim_far / dim_core
    no_bloom = preset_params("realistic", shift_sigma_lr=0.0, max_rotation_deg=0.0, bloom_max_fraction=0.0)
    _, plain = degrade_dmsp_like(_point_sources(), no_bloom, seed=0)
    assert plain.lr_radiance[10, 13] < bright_far


def test_misregistration_moves_the_image():
    hr = np.zeros((128, 128))
    hr[60:68, 60:68] = 50.0
    params = preset_params(
        "realistic",
        shift_sigma_lr=1.0,
        max_shift_lr=1.5,
        max_rotation_deg=0.0,
        noise_sigma_dn=0.0,
        noise_relative=0.0,
    )
    _, info = degrade_dmsp_like(hr, params, seed=11)
    rows, cols = np.indices(info.lr_radiance.shape)
    weights = info.lr_radiance / info.lr_radiance.sum()
    centroid = ((rows * weights).sum(), (cols * weights).sum())
    expected = (7.5 + info.shift_lr[0], 7.5 + info.shift_lr[1])
    assert centroid == pytest.approx(expected, abs=0.15)
    assert max(abs(v) for v in info.shift_lr) > 0.2


def test_gain_drift_scales_dn():
    hr = np.full((32, 32), 5.0)
    params = preset_params(
        "realistic", noise_sigma_dn=0.0, noise_relative=0.0, quantize=False, offset_drift_sigma_dn=0.0
    )
    lr, info = degrade_dmsp_like(hr, params, seed=4)
    assert np.nanmean(lr) == pytest.approx(6.0 * info.gain_drift * 5.0**0.6, rel=1e-3)
    np.testing.assert_allclose(lr_dn_to_radiance(lr, info), 5.0, rtol=1e-3)


def test_bicubic_preset_is_noise_free_and_seed_independent():
    hr = np.random.default_rng(3).gamma(0.5, 10.0, (64, 64))
    params = preset_params("bicubic")
    a, info = degrade_dmsp_like(hr, params, seed=1)
    b, _ = degrade_dmsp_like(hr, params, seed=2)
    np.testing.assert_array_equal(a, b)
    assert info.gain_drift == 1.0 and info.shift_lr == (0.0, 0.0)
    assert not np.all(a == np.round(a))  # not quantised
    realistic, _ = degrade_dmsp_like(hr, seed=1)
    assert np.abs(realistic - a).mean() > 0.1


def test_nodata_handling():
    hr = np.random.default_rng(4).gamma(0.5, 10.0, (64, 64))
    hr[:, :20] = np.nan
    lr, info = degrade_dmsp_like(hr, seed=0)
    assert np.isnan(lr[:, :2]).all() and np.isfinite(lr[:, 3:]).all()
    assert not info.valid[:, 0].any()


def test_bad_inputs():
    with pytest.raises(RasterError, match="not a multiple of the scale 8"):
        degrade_dmsp_like(np.ones((30, 32)))
    with pytest.raises(RasterError, match="must be 2-D"):
        degrade_dmsp_like(np.ones((2, 32, 32)))
    with pytest.raises(RasterError, match="no valid pixel"):
        degrade_dmsp_like(np.full((16, 16), np.nan))
    with pytest.raises(ConfigError, match="unknown degradation preset 'fancy'"):
        preset_params("fancy")
    with pytest.raises(ConfigError, match="unknown degradation parameter"):
        preset_params("realistic", blur=3)
    with pytest.raises(ConfigError, match="aggregation must be"):
        DegradationParams(aggregation="max")
    with pytest.raises(ConfigError, match="noise_sigma_dn must be >= 0"):
        DegradationParams(noise_sigma_dn=-1)
