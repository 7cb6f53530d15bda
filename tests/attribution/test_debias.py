"""Norm debiasing modes."""

from __future__ import annotations

import numpy as np
import pytest

from drift.attribution.debias import debias
from drift.attribution.scoring_config import DebiasMode


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    norms = rng.uniform(0.5, 3.0, size=200)
    scores = 2.0 * norms + rng.normal(size=200)  # norm-dominated
    return scores, norms


def test_residual_is_uncorrelated_with_norms() -> None:
    scores, norms = _data()
    assert abs(np.corrcoef(scores, norms)[0, 1]) > 0.5
    out = debias(scores, norms, DebiasMode.residual)
    assert abs(np.corrcoef(out, norms)[0, 1]) < 1e-10
    assert abs(out.mean()) < 1e-10


def test_cosine_and_power() -> None:
    scores, norms = _data()
    np.testing.assert_allclose(debias(scores, norms, DebiasMode.cosine), scores / norms)
    np.testing.assert_allclose(
        debias(scores, norms, DebiasMode.cosine, target_norm=2.0), scores / norms / 2.0
    )
    np.testing.assert_allclose(
        debias(scores, norms, DebiasMode.power, alpha=0.5), scores / norms**0.5
    )
    np.testing.assert_allclose(debias(scores, norms, DebiasMode.power, alpha=0.0), scores)
    np.testing.assert_allclose(debias(scores, norms, DebiasMode.none), scores)


def test_two_dimensional_scores_and_zero_norm() -> None:
    scores = np.array([[1.0, 2.0], [3.0, -4.0], [0.0, 0.0]])
    norms = np.array([1.0, 2.0, 0.0])
    np.testing.assert_allclose(
        debias(scores, norms, DebiasMode.cosine), [[1.0, 2.0], [1.5, -2.0], [0.0, 0.0]]
    )
    res = debias(scores, norms, DebiasMode.residual)
    assert res.shape == (3, 2)
    np.testing.assert_allclose(res.T @ np.c_[np.ones(3), norms], 0.0, atol=1e-12)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        debias(np.array([np.nan]), np.array([1.0]), DebiasMode.none)
    with pytest.raises(ValueError, match=">= 0"):
        debias(np.array([1.0]), np.array([-1.0]), DebiasMode.cosine)
    with pytest.raises(ValueError, match="not a valid"):
        debias(np.array([1.0]), np.array([1.0]), "l2")
