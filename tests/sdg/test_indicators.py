"""Known answers of the indicator formulas, thresholds and accuracy scores."""

import warnings

import numpy as np
import pytest

from deeplight.errors import DeepLightError
from deeplight.sdg import (
    calibrated_threshold,
    co2_pixel_disaggregation,
    confusion_scores,
    electricity_access_proxy,
    gdp_growth_from_lights,
    land_consumption_rate,
    lcr_pgr_ratio,
    otsu_threshold,
    population_growth_rate,
    zonal_statistics,
)
from deeplight.sdg.thresholds import lit_mask
from deeplight.sdg.zonal import weighted_quantile


def test_sdg_11_3_1_rates_and_ratio():
    lcr = land_consumption_rate(100.0, 121.0, 2)
    pgr = population_growth_rate(1000.0, 1100.0, 2)
    assert lcr == pytest.approx(np.log(1.21) / 2)
    assert pgr == pytest.approx(np.log(1.1) / 2)
    assert lcr_pgr_ratio(lcr, pgr) == pytest.approx(2.0, rel=1e-9)
    assert np.isnan(land_consumption_rate(0.0, 5.0, 2))


@pytest.mark.parametrize("pgr", [0.0, -0.01])
def test_lcrpgr_is_nan_with_a_warning_when_population_does_not_grow(pgr):
    with pytest.warns(RuntimeWarning, match=r"LCRPGR undefined for Huangpu: population growth rate .* <= 0"):
        assert np.isnan(lcr_pgr_ratio(0.05, pgr, region="Huangpu"))


def test_lcrpgr_unknown_population_is_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(lcr_pgr_ratio(0.05, float("nan")))


def test_lit_mask_per_sensor():
    values = np.array([0.5, 1.0, 7.0, 8.0, np.nan])
    assert lit_mask(values, 1.0).tolist() == [False, True, True, True, False]
    assert lit_mask(values, 7.0, is_dn=True).tolist() == [False, False, False, True, False]


def test_otsu_splits_a_bimodal_scene():
    rng = np.random.default_rng(0)
    dark = rng.uniform(0.0, 0.5, 500)
    bright = rng.uniform(30.0, 60.0, 100)
    tau = otsu_threshold(np.concatenate([dark, bright]))
    assert 0.5 < tau < 30.0
    with pytest.raises(DeepLightError, match="two distinct"):
        otsu_threshold(np.ones(10))


def test_calibrated_threshold_matches_the_reference_area():
    radiance = np.arange(1.0, 11.0)
    assert calibrated_threshold(radiance, np.ones(10), 3.0) == 8.0
    assert calibrated_threshold(radiance, np.full(10, 2.0), 6.0) == 8.0
    with pytest.raises(DeepLightError, match="must lie in"):
        calibrated_threshold(radiance, np.ones(10), 11.0)


def test_access_proxy_and_co2_pixels_and_gdp_prior():
    people = np.array([10.0, 30.0, 60.0, np.nan])
    lit = np.array([True, False, True, True])
    assert electricity_access_proxy(people, lit) == pytest.approx(0.7)
    assert np.isnan(electricity_access_proxy(np.zeros(3), np.ones(3, bool)))
    emissions = co2_pixel_disaggregation(np.array([1.0, 3.0, np.nan]), np.array([2.0, 2.0, 2.0]), 100.0)
    np.testing.assert_allclose(emissions[:2], [25.0, 75.0])
    assert np.isnan(emissions[2])
    assert gdp_growth_from_lights(100.0, 200.0) == pytest.approx(0.3 * np.log(2))
    assert np.isnan(gdp_growth_from_lights(0.0, 200.0))


def test_confusion_scores_known_answer():
    scores = confusion_scores(tp=40, fp=10, fn=10, tn=40)
    assert scores["f1"] == pytest.approx(0.8)
    assert scores["iou"] == pytest.approx(40 / 60)
    assert scores["kappa"] == pytest.approx(0.6)  # p_o 0.8, p_e 0.5
    perfect = confusion_scores(10, 0, 0, 90)
    assert perfect["f1"] == 1.0 and perfect["kappa"] == pytest.approx(1.0)


def test_zonal_statistics_with_partial_cells():
    values = np.array([2.0, 4.0, np.nan])
    stats = zonal_statistics(values, fraction=np.array([1.0, 0.5, 1.0]), area_km2=np.array([1.0, 2.0, 1.0]))
    assert stats["sum_of_lights"] == pytest.approx(2.0 * 1.0 + 4.0 * 1.0)
    assert stats["mean"] == pytest.approx(6.0 / 2.0)
    assert stats["valid_fraction"] == pytest.approx(2.0 / 3.0)
    assert stats["count"] == pytest.approx(1.5)
    assert weighted_quantile(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4), 0.5) == pytest.approx(2.5)
    empty = zonal_statistics(np.array([np.nan]), np.array([1.0]), np.array([1.0]))
    assert np.isnan(empty["sum_of_lights"]) and empty["valid_fraction"] == 0.0
