import numpy as np
import pytest

from drift.enums import InfluenceCombine
from drift.weighting.influence import combine_influence, mean_one_per_prompt
from drift.weighting.trajectory import drift_iw_weights

E2 = np.e**2


def test_drop_negative_zeroes_negative_influence_and_renormalises_per_prompt():
    ids = ["a", "a", "b", "b", "b"]
    weights = np.array([1.5, 0.5, 2.0, 1.0, 0.0])
    scores = np.array([0.3, -0.1, -0.2, 0.4, 0.0])  # a score of exactly 0 is kept
    out = combine_influence(ids, weights, scores, "drop_negative")
    np.testing.assert_allclose(out, [2.0, 0.0, 0.0, 3.0, 0.0])


def test_product_multiplies_by_exp_of_standardised_score():
    ids = ["a", "a", "b", "b"]
    weights = np.array([1.0, 1.0, 3.0, 1.0])
    scores = np.array([0.5, -0.5, -0.5, 0.5]) + 7.0  # z = [1, -1, -1, 1]
    out = combine_influence(ids, weights, scores, InfluenceCombine.product, temperature=1.0)
    expected = [2 * E2 / (E2 + 1), 2 / (E2 + 1), 6 / (3 + E2), 2 * E2 / (3 + E2)]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    hot = combine_influence(ids, weights, scores, "product", temperature=2.0)
    np.testing.assert_allclose(hot[:2], [2 * np.e / (np.e + 1), 2 / (np.e + 1)], rtol=1e-12)


def test_product_is_drift_iw_with_an_influence_bonus_on_the_return():
    rng = np.random.default_rng(0)
    ids = [f"p{i % 5}" for i in range(40)]
    returns, scores = rng.normal(size=40), rng.normal(size=40)
    beta, temperature = 0.1, 0.5
    z = (scores - scores.mean()) / scores.std()
    out = combine_influence(
        ids, drift_iw_weights(ids, returns, beta), scores, "product", temperature
    )
    bonus = drift_iw_weights(ids, returns + beta * z / temperature, beta)
    np.testing.assert_allclose(out, bonus, rtol=1e-9)
    far = combine_influence(ids, drift_iw_weights(ids, returns, beta), scores, "product", 1e9)
    np.testing.assert_allclose(far, drift_iw_weights(ids, returns, beta), rtol=1e-6)


def test_prompt_with_nothing_left_keeps_zero_weight_and_all_negative_raises():
    out = mean_one_per_prompt(["a", "a", "b"], np.array([0.0, 0.0, 4.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="every score is negative"):
        combine_influence(["a", "b"], np.ones(2), np.array([-1.0, -2.0]), "drop_negative")
    with pytest.raises(ValueError, match="finite weights"):
        mean_one_per_prompt(["a"], np.array([-1.0]))
