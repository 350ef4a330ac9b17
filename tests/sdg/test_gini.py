"""The light-inequality index (Gini of lights over a region's cells) against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from deeplight.sdg.indicators import light_gini


def test_hand_computed_values():
    # 1, 2, 3, 4: sum over ordered pairs of |xi - xj| = 20, 2 n^2 mean = 2 * 16 * 2.5 = 80 -> 0.25
    assert light_gini(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.25)
    # all the light in one of four cells: 6 / (2 * 16 * 0.25) = 0.75 = 1 - 1/n
    assert light_gini(np.array([0.0, 0.0, 0.0, 5.0])) == pytest.approx(0.75)
    assert light_gini(np.full(7, 3.2)) == pytest.approx(0.0)


def test_weights_act_as_repeated_cells():
    # a cell of weight 3 counts as three cells: [0, 1 (x3)] -> 6 / (2 * 16 * 0.75) = 0.25
    assert light_gini(np.array([0.0, 1.0]), np.array([1.0, 3.0])) == pytest.approx(0.25)
    rng = np.random.default_rng(0)
    x = rng.gamma(0.5, 10.0, size=40)
    w = rng.integers(1, 4, size=40)
    assert light_gini(x, w.astype(float)) == pytest.approx(light_gini(np.repeat(x, w)))


def test_pairwise_formula_on_random_cells():
    x = np.random.default_rng(1).lognormal(0.0, 1.5, size=200)
    pairwise = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())
    assert light_gini(x) == pytest.approx(pairwise, rel=1e-9)


def test_nan_negative_and_dark_regions():
    assert light_gini(np.array([np.nan, 1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.25)
    assert light_gini(np.array([-0.2, 0.0, 0.0, 5.0])) == pytest.approx(0.75)  # noise counts as 0
    assert np.isnan(light_gini(np.zeros(5)))  # no light at all: undefined
    assert np.isnan(light_gini(np.array([np.nan, np.nan])))
    assert np.isnan(light_gini(np.array([1.0, 2.0]), np.array([0.0, 0.0])))
    with pytest.raises(ValueError, match="differ in size"):
        light_gini(np.ones(3), np.ones(2))
