"""Ranking quality of attribution scores: AUROC (scikit-learn) and Spearman correlation (scipy).

Orientation: a higher score means *more helpful / clean*. ``auroc(scores, labels)`` is the
probability that a random positive (``labels == 1``, e.g. a clean example) scores above a random
negative (a planted harmful one), ties counting one half. To measure how well a score finds the
harmful examples instead, pass ``-scores`` or the flipped labels. Both metrics treat ties as the
libraries do: ``roc_auc_score`` integrates the ROC curve with the trapezoidal rule (a tied pair
counts one half) and ``spearmanr`` correlates average ranks.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import ConstantInputWarning, spearmanr
from sklearn.metrics import roc_auc_score


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve of ``scores [N]`` for binary ``labels [N]`` (1 = positive).

    Raises ValueError when a class is empty (AUROC is undefined) or a score is not finite.
    """
    s = _finite_1d(scores, "scores")
    y = np.asarray(labels)
    if y.shape != s.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in shape")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1 or boolean")
    pos = y.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"AUROC needs both classes, got {n_pos} positives and {n_neg} negatives")
    return float(roc_auc_score(pos, s))


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation of ``a [N]`` and ``b [N]``; NaN when either input is constant."""
    x, y = _finite_1d(a, "a"), _finite_1d(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"inputs differ in shape: {x.shape} vs {y.shape}")
    if len(x) < 2:
        raise ValueError("spearman needs at least two values")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)  # the NaN says it
        return float(spearmanr(x, y).statistic)


def _finite_1d(values: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"{name} has {bad.size} non-finite values (first at index {bad[0]})")
    return x
