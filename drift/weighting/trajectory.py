"""Trajectory weights for SFT on rollouts (README, "Methods") and the examples they give."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from drift.enums import LossTurns, Weighting
from drift.errors import ConfigError
from drift.plugins import as_function, choice_or_object
from drift.types import TrainExample, Trajectory

WeightingFn = Callable[[Sequence[Trajectory], float], np.ndarray]
"""``weighting(trajectories, beta) -> weights``: a user's ``method.weighting`` (README,
"Plug-ins"), one finite weight >= 0 per trajectory, [N]."""

KEY = "method.weighting"


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


def user_weighting(weighting: Weighting | str) -> WeightingFn | None:
    """None for a built-in ``method.weighting``, else the user's :data:`WeightingFn` at that
    dotted path (or a class whose instance made without arguments is one); a
    :class:`~drift.errors.ConfigError` naming the key and the path for anything else."""
    obj = choice_or_object(KEY, weighting, Weighting)
    if obj is None:
        return None
    return as_function(KEY, weighting, obj, ("trajectories", "beta"), "a weighting")


def _checked(path: str, returned: object, n: int) -> np.ndarray:
    """What a user's weighting returned, as float64 [n]; a ConfigError naming the key and the
    path unless it is one finite weight >= 0 per trajectory."""
    contract = f"{KEY}={path}: a weighting returns one finite weight >= 0 per trajectory ({n})"
    try:
        weights = np.asarray(returned, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{contract}, got {type(returned).__name__} ({err})") from None
    if weights.shape != (n,) or not np.all(np.isfinite(weights) & (weights >= 0)):
        raise ConfigError(f"{contract}, got shape {weights.shape}: {weights.ravel()[:5]}")
    return weights


def trajectory_weights(
    trajectories: Sequence[Trajectory], weighting: Weighting | str, beta: float
) -> np.ndarray:
    """One weight per trajectory, float64 [N]: drift_iw, uniform (1), rft (1 if the last
    answer is correct: solved, under the oracle protocol) or the user's (a dotted path)."""
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    user = user_weighting(weighting)
    if user is not None:
        return _checked(str(weighting), user(trajectories, beta), len(trajectories))
    weighting = Weighting(weighting)
    if weighting == Weighting.uniform:
        return np.ones(len(trajectories))
    if weighting == Weighting.rft:
        return np.fromiter((t.final_correct for t in trajectories), np.float64, len(trajectories))
    prompt_ids, returns = [], []
    for t in trajectories:  # one pass: a TrajectoryFile parses its lines once
        prompt_ids.append(t.prompt_id)
        returns.append(t.ret)
    return drift_iw_weights(prompt_ids, np.array(returns, dtype=np.float64), beta)


def to_train_examples(
    trajectories: Sequence[Trajectory], weights: np.ndarray, loss_turns: LossTurns | str
) -> Iterator[TrainExample]:
    """Weighted conversations for SFT, made one at a time as they are consumed (a
    :class:`~drift.rollout.store.TrajectoryFile` is streamed); zero-weight trajectories (e.g.
    unsolved under rft) drop. The weights are checked at once."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(trajectories),):
        raise ValueError(f"expected {len(trajectories)} weights, got shape {weights.shape}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("weights must be finite and >= 0")
    turns = LossTurns(loss_turns).value
    return (
        TrainExample(
            id=f"{t.prompt_id}/{t.sample_id}",
            messages=t.messages(),
            weight=float(w),
            loss_turns=turns,
            prefill=t.prefill,
        )
        for t, w in zip(trajectories, weights.tolist(), strict=True)
        if w > 0
    )
