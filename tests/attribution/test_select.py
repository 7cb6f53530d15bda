"""Refinement: exact top fractions, negative dropping, weights with mean 1 over kept."""

from __future__ import annotations

import numpy as np
import pytest

from drift.attribution.scoring_config import WeightMode
from drift.attribution.select import drop_negative, scores_to_weights, select_top


@pytest.mark.parametrize(
    ("n", "fraction", "k"),
    [(100, 0.05, 5), (100, 0.29, 29), (7, 0.5, 4), (3, 0.01, 1), (10, 1.0, 10)],
)
def test_select_top_fraction_is_exact(n: int, fraction: float, k: int) -> None:
    scores = np.random.default_rng(n).normal(size=n)
    keep = select_top(scores, fraction)
    assert keep.sum() == k
    assert scores[keep].min() >= scores[~keep].max(initial=-np.inf)


def test_select_top_ties_break_by_position() -> None:
    keep = select_top(np.array([1.0, 2.0, 2.0, 2.0, 0.0]), 0.4)
    np.testing.assert_array_equal(keep, [False, True, True, False, False])


def test_select_rejects_nan_and_bad_fraction() -> None:
    with pytest.raises(ValueError, match="not finite"):
        select_top(np.array([1.0, np.nan]), 0.5)
    with pytest.raises(ValueError, match="fraction"):
        select_top(np.array([1.0, 2.0]), 0.0)


def test_drop_negative_keeps_zero_and_refuses_all_negative() -> None:
    np.testing.assert_array_equal(drop_negative(np.array([-1.0, 0.0, 2.0])), [False, True, True])
    with pytest.raises(ValueError, match="negative"):
        drop_negative(np.array([-1.0, -2.0]))


def test_softmax_weights_mean_one_over_kept_and_monotone() -> None:
    scores = np.array([3.0, -1.0, 0.5, 2.0, 1.0])
    keep = np.array([True, False, True, True, True])
    w = scores_to_weights(scores, WeightMode.softmax, temperature=0.5, keep=keep)
    assert w[1] == 0.0
    assert w[keep].mean() == pytest.approx(1.0)
    assert np.all(np.diff(w[[2, 4, 3, 0]]) > 0)
    z = (scores[keep] - scores[keep].mean()) / scores[keep].std()
    expected = np.exp(z / 0.5) / np.exp(z / 0.5).mean()
    np.testing.assert_allclose(w[keep], expected)


def test_rank_weights_and_constant_scores() -> None:
    w = scores_to_weights(np.array([10.0, 30.0, 20.0, 20.0]), WeightMode.rank)
    np.testing.assert_allclose(w, np.array([1.0, 4.0, 2.5, 2.5]) / 2.5)
    np.testing.assert_allclose(scores_to_weights(np.full(4, 7.0)), np.ones(4))
