"""The generator's statistics: heavy tails, lights on ISP, terrain/land-cover/spectra consistency,
LR saturation where bright, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from deeplight.contracts import DN_MAX, nominal_dn_to_radiance
from deeplight.data.synth import SynthConfig, generate_scene, synthetic_to_scene
from deeplight.errors import ConfigError


@pytest.fixture(scope="module")
def scenes():
    return [generate_scene(32, seed) for seed in range(6)]


def test_shapes_and_units(scenes):
    scene = scenes[0]
    assert scene.lr.shape == (32, 32) and scene.hr.shape == (256, 256)
    assert scene.dmo.shape == (7, 256, 256) and scene.dem.shape == scene.isp.shape == (256, 256)
    assert scene.hr.min() >= 0 and 0 <= scene.isp.min() and scene.isp.max() <= 1
    assert 0 <= scene.dmo.min() and scene.dmo.max() <= 1
    assert np.nanmax(scene.lr) <= DN_MAX
    non_square = generate_scene((8, 12), 0)
    assert non_square.hr.shape == (64, 96) and non_square.lr.shape == (8, 12)


def test_deterministic_by_seed():
    a, b, c = generate_scene(16, 42), generate_scene(16, 42), generate_scene(16, 43)
    for name in ("hr", "lr", "dmo", "dem", "isp"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.hr, c.hr)


def test_radiance_is_heavy_tailed(scenes):
    radiance = np.concatenate([s.hr.ravel() for s in scenes])
    assert stats.skew(radiance) > 5
    assert stats.kurtosis(radiance) > 30
    top = np.sort(radiance)[::-1]
    assert top[: top.size // 100].sum() / top.sum() > 0.25  # the brightest 1 % hold > 25 % of light
    assert np.percentile(radiance, 99.9) > 50 * np.median(radiance)
    populations = np.concatenate([[p for *_, p in s.settlements] for s in scenes])
    assert populations.max() > 10 * np.median(populations)  # Zipf-like settlement sizes


def test_lights_concentrate_on_impervious_surface(scenes):
    for scene in scenes:
        built = scene.isp > 0.2
        assert built.mean() < 0.2
        lit = scene.hr > 1.0  # above the VIIRS-like background (SCIENCE.md section 4)
        assert scene.hr[lit & (scene.isp > 0.1)].sum() / scene.hr[lit].sum() > 0.85
        assert np.median(scene.hr[built]) > 20 * np.median(scene.hr[~built])


def test_dem_and_land_cover_are_consistent(scenes):
    for scene in scenes:
        water = scene.water
        assert water.any()
        assert np.median(scene.dem[water]) < np.median(scene.dem[~water])
        assert scene.isp[water].max() == 0 and scene.builtup[water].max() == 0
        gy, gx = np.gradient(scene.dem.astype(float), 130.0)
        slope = np.hypot(gx, gy)
        built = scene.builtup > 0.3
        if built.sum() > 50:
            assert np.median(slope[built]) < np.median(slope[~water])
        assert (scene.landcover[water] == 0).all()


def test_reflectance_follows_land_cover(scenes):
    for scene in scenes:
        red, nir, green, swir = scene.dmo[3], scene.dmo[4], scene.dmo[2], scene.dmo[5]
        ndvi = (nir - red) / (nir + red + 1e-6)
        mndwi = (green - swir) / (green + swir + 1e-6)
        veg, water, built = scene.landcover == 2, scene.water, scene.isp > 0.6
        assert ndvi[veg].mean() > 0.5 > ndvi[~veg & ~water].mean()
        assert mndwi[water].mean() > 0.5 and mndwi[~water].mean() < 0
        if built.sum() > 20:
            assert ndvi[built].mean() < ndvi[veg].mean() - 0.3


def test_lr_saturated_where_bright():
    scene = generate_scene(48, 1)  # holds a city of about 1.2 million people
    assert max(p for *_, p in scene.settlements) > 1e6
    lr, info = scene.lr, scene.degradation
    saturation_radiance = nominal_dn_to_radiance(DN_MAX) / info.gain_drift ** (1 / 0.6)
    bright = info.lr_radiance > 1.3 * saturation_radiance
    dark = info.lr_radiance < 0.5 * saturation_radiance
    assert bright.sum() >= 2
    assert (lr[bright] == DN_MAX).all()
    assert (lr[dark] < DN_MAX).all()
    assert info.saturated_fraction > 0


def test_larger_towns_are_brighter():
    scene = generate_scene(64, 5)
    rows, cols, pops = zip(*scene.settlements)
    peak = [scene.hr[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3].max() for r, c in zip(rows, cols)]
    assert stats.spearmanr(pops, peak).statistic > 0.3


def test_scene_view_and_config_checks():
    scene = synthetic_to_scene(generate_scene(8, 1))
    assert scene.lr_simulated and scene.hr_synthetic and all(scene.present.values())
    assert scene.hr_shape == scene.hr.shape == (64, 64) and len(scene.regions) == 1
    with pytest.raises(ConfigError, match="LR size must be positive"):
        generate_scene(0, 1)
    bright = generate_scene(16, 1, SynthConfig(city_peak_radiance=200.0))
    assert bright.hr.max() > generate_scene(16, 1).hr.max()
