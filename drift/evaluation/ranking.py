"""Ranking quality of attribution scores: AUROC and Spearman correlation, ties averaged.

Orientation: a higher score means *more helpful / clean*. ``auroc(scores, labels)`` is the
probability that a random positive (``labels == 1``, e.g. a clean example) scores above a random
negative (a planted harmful one), ties counting one half. To measure how well a score finds the
harmful examples instead, pass ``-scores`` or the flipped labels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def average_ranks(values: ArrayLike) -> np.ndarray:
    """1-based ranks of ``values [N]`` in ascending order, tied values sharing their mean rank."""
    x = _finite_1d(values, "values")
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])  # first index per tie run
    ends = np.r_[starts[1:], len(x)]  # one past the last index per tie run
    run_rank = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve of ``scores [N]`` for binary ``labels [N]`` (1 = positive).

    Computed from the Mann-Whitney U statistic on average ranks, so ties count one half.
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
    rank_sum = average_ranks(s)[pos].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation of ``a [N]`` and ``b [N]`` (Pearson on average ranks).

    Returns NaN when either input is constant (the correlation is undefined), as scipy does.
    """
    ra, rb = average_ranks(a), average_ranks(b)
    if ra.shape != rb.shape:
        raise ValueError(f"inputs differ in shape: {ra.shape} vs {rb.shape}")
    if len(ra) < 2:
        raise ValueError("spearman needs at least two values")
    da, db = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((da * da).sum() * (db * db).sum())
    if denom == 0:
        return float("nan")
    return float((da * db).sum() / denom)


def _finite_1d(values: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"{name} has {bad.size} non-finite values (first at index {bad[0]})")
    return x
