"""Refinement: scores [N] (higher = more helpful) -> a kept mask or SFT weights.

NaN or infinite scores raise ValueError (a scorer bug upstream, never silently dropped). Ties
in :func:`select_top` are broken by position (the earlier example wins), so the kept count is
exact and the result deterministic; in ``rank`` weights tied scores share their mean rank.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from drift.attribution.scoring_config import WeightMode


def select_top(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Mask [N] keeping exactly max(1, round_half_up(fraction · N)) highest-scoring examples."""
    s = _check(scores)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    k = max(1, int(np.floor(fraction * len(s) + 0.5)))
    order = np.argsort(-s, kind="stable")
    keep = np.zeros(len(s), dtype=bool)
    keep[order[:k]] = True
    return keep


def drop_negative(scores: np.ndarray) -> np.ndarray:
    """Mask [N] keeping examples with score >= 0; ValueError if every score is negative."""
    keep = _check(scores) >= 0
    if not keep.any():
        raise ValueError("every score is negative: dropping them would leave no training data")
    return keep


def scores_to_weights(
    scores: np.ndarray,
    mode: WeightMode = WeightMode.softmax,
    temperature: float = 1.0,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """SFT weights [N] with mean 1 over the kept examples and 0 elsewhere.

    ``softmax``: w ∝ exp(z / temperature), z the scores standardised over the kept examples
    (raw influence has an arbitrary scale, z-scores make the temperature meaningful; equal
    scores give equal weights). ``rank``: w ∝ the average rank among the kept (1 = lowest).
    """
    mode = WeightMode(mode)
    s = _check(scores)
    mask = np.ones(len(s), dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if mask.shape != s.shape or not mask.any():
        raise ValueError("keep must be a boolean mask [N] with at least one True")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    kept = s[mask]
    if mode is WeightMode.rank:
        raw = rankdata(kept)
    else:
        std = kept.std()
        z = (kept - kept.mean()) / std if std > 0 else np.zeros_like(kept)
        raw = np.exp((z - z.max()) / temperature)
    weights = np.zeros(len(s), dtype=np.float64)
    weights[mask] = raw / raw.mean()
    return weights


def _check(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {s.shape}")
    bad = np.flatnonzero(~np.isfinite(s))
    if bad.size:
        raise ValueError(f"{bad.size} scores are not finite (first at index {bad[0]})")
    return s
