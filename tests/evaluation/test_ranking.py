"""AUROC and Spearman with ties, against hand examples and their textbook definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu, pearsonr, rankdata

from drift.evaluation.ranking import auroc, spearman


def test_auroc_hand_examples() -> None:
    assert auroc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert auroc([0.9, 0.8, 0.1, 0.2], [0, 0, 1, 1]) == 0.0
    # pairs (pos, neg): (3,1) win, (3,2) win, (2,1) win, (2,2) tie -> 3.5 / 4
    assert auroc([3, 2, 1, 2], [1, 1, 0, 0]) == pytest.approx(0.875)
    assert auroc([5, 5, 5, 5], [1, 0, 1, 0]) == 0.5


def test_auroc_rejects_one_class_and_nan() -> None:
    with pytest.raises(ValueError, match="both classes"):
        auroc([1.0, 2.0], [1, 1])
    with pytest.raises(ValueError, match="non-finite"):
        auroc([1.0, np.nan], [1, 0])
    with pytest.raises(ValueError, match="0/1"):
        auroc([1.0, 2.0], [2, 0])


def test_spearman_hand_examples() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_spearman_rejects_nan_and_shape() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        spearman([1.0, np.inf, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="differ in shape"):
        spearman([1.0, 2.0], [1.0, 2.0, 3.0])


def test_ties_match_mann_whitney_and_pearson_on_average_ranks() -> None:
    """AUROC = U / (n_pos n_neg) with ties counting one half; Spearman = Pearson of mean ranks."""
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=300).astype(float)  # many ties
    labels = rng.random(300) < 0.3
    u = mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert auroc(scores, labels) == pytest.approx(u / (labels.sum() * (~labels).sum()), abs=1e-12)
    other = scores + rng.integers(0, 3, size=300)
    expected = pearsonr(rankdata(scores), rankdata(other)).statistic
    assert spearman(scores, other) == pytest.approx(expected, abs=1e-12)
