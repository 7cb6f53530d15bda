"""Trajectory weights for SFT on rollouts (README, "Methods") and the examples they give."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drift.config import LossTurns, Weighting
from drift.types import TrainExample, Trajectory


def drift_iw_weights(prompt_ids: Sequence[str], returns: np.ndarray, beta: float) -> np.ndarray:
    """w_i = exp(R_i/beta) / mean_{j: same prompt} exp(R_j/beta), computed in log space.

    ``returns`` is [N]; groups come from ``np.unique`` so there is no per-prompt Python loop.
    Within each prompt the weights have mean 1.
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    z = np.asarray(returns, dtype=np.float64) / beta  # [N]
    if not np.all(np.isfinite(z)):
        raise ValueError("returns must be finite")
    _, group, counts = np.unique(np.asarray(prompt_ids), return_inverse=True, return_counts=True)
    zmax = np.full(len(counts), -np.inf)
    np.maximum.at(zmax, group, z)  # [G]
    shifted = np.exp(z - zmax[group])  # [N], in (0, 1]
    log_mean = zmax + np.log(np.bincount(group, weights=shifted) / counts)  # [G]
    return np.exp(z - log_mean[group])


def trajectory_weights(
    trajectories: Sequence[Trajectory], weighting: Weighting | str, beta: float
) -> np.ndarray:
    """One weight per trajectory, float64 [N]: drift_iw, uniform (1) or rft (1 if the last
    answer is correct: solved, under the oracle protocol)."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    weighting = Weighting(weighting)
    if weighting == Weighting.UNIFORM:
        return np.ones(len(trajectories))
    if weighting == Weighting.RFT:
        return np.array([t.final_correct for t in trajectories], dtype=np.float64)
    if not trajectories:
        return np.zeros(0)
    returns = np.array([t.ret for t in trajectories], dtype=np.float64)
    return drift_iw_weights([t.prompt_id for t in trajectories], returns, beta)


def to_train_examples(
    trajectories: Sequence[Trajectory], weights: np.ndarray, loss_turns: LossTurns | str
) -> list[TrainExample]:
    """Weighted conversations for SFT; zero-weight trajectories (e.g. unsolved under rft) drop."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(trajectories),):
        raise ValueError(f"expected {len(trajectories)} weights, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("weights must be finite and >= 0")
    turns = LossTurns(loss_turns).value
    return [
        TrainExample(
            id=f"{t.prompt_id}/{t.sample_id}",
            messages=t.messages(),
            weight=float(w),
            loss_turns=turns,
            prefill=t.prefill,
        )
        for t, w in zip(trajectories, weights, strict=True)
        if w > 0
    ]
