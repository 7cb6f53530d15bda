"""Return weights combined with influence scores (``method=drift_iw_if``).

Both combinations multiply each trajectory's weight by a non-negative factor taken from its
influence score, then renormalise to mean 1 per prompt (DRIFT-IW's own self-normalisation):

- ``product``: factor exp(z / T), z the scores standardised over all trajectories. For
  drift_iw weights this is exactly DRIFT-IW with the return R replaced by R + β·z/T: the
  influence acts as a bounded reward bonus, and T → ∞ gives DRIFT-IW back.
- ``drop_negative``: factor 1 if the score is >= 0, else 0.

A prompt whose products are all zero keeps zero weight (it drops out of training).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drift.attribution.scoring_config import WeightMode
from drift.attribution.select import drop_negative, scores_to_weights
from drift.enums import InfluenceCombine


def mean_one_per_prompt(prompt_ids: Sequence[str], weights: np.ndarray) -> np.ndarray:
    """``weights`` [N] divided by their mean within each prompt; all-zero prompts stay zero."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(prompt_ids),) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"need {len(prompt_ids)} finite weights >= 0, got shape {w.shape}")
    _, group, counts = np.unique(np.asarray(prompt_ids), return_inverse=True, return_counts=True)
    mean = np.bincount(group, weights=w, minlength=len(counts)) / counts  # [G]
    return np.divide(w, mean[group], out=np.zeros_like(w), where=mean[group] > 0)


def combine_influence(
    prompt_ids: Sequence[str],
    weights: np.ndarray,
    scores: np.ndarray,
    combine: InfluenceCombine | str,
    temperature: float = 1.0,
) -> np.ndarray:
    """Weights [N] from return weights [N] and influence scores [N] (higher = more helpful)."""
    combine = InfluenceCombine(combine)
    if combine is InfluenceCombine.product:
        factor = scores_to_weights(scores, WeightMode.softmax, temperature)
    else:
        factor = drop_negative(scores).astype(np.float64)
    return mean_one_per_prompt(prompt_ids, np.asarray(weights, dtype=np.float64) * factor)
