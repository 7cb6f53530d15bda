"""One offline method on shared rollouts: weights -> weighted SFT -> HF export, K rounds."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from drift.config import BatchOrder, DriftConfig, MethodConfig
from drift.models.factory import apply_lora, export_hf, load_policy
from drift.pipeline.influence import influence_weighted
from drift.pipeline.rollouts import RolloutSet, ensure_rollouts
from drift.rollout.store import write_trajectories
from drift.training.fit import train_policy
from drift.types import Problem, Trajectory
from drift.weighting.trajectory import to_train_examples, trajectory_weights

log = logging.getLogger(__name__)


def weight_summary(weights: np.ndarray) -> dict[str, float]:
    """How concentrated the weights [N] are: share kept, max weight, effective sample size
    ratio."""
    w = np.asarray(weights, dtype=np.float64)
    ess = w.sum() ** 2 / max((w**2).sum(), 1e-12)
    return {
        "weights/kept_fraction": float((w > 0).mean()),
        "weights/max": float(w.max()),
        "weights/ess_fraction": float(ess / len(w)),
    }


def with_weights(
    trajectories: Sequence[Trajectory], weights: np.ndarray, influence: np.ndarray | None
) -> Iterator[Trajectory]:
    """Copies of ``trajectories`` carrying their weights (and influence scores), one at a time."""
    scores = [None] * len(weights) if influence is None else influence.tolist()
    for t, w, s in zip(trajectories, weights.tolist(), scores, strict=True):
        yield replace(t, weight=w, influence=s)


def train_round(
    cfg: DriftConfig,
    method: MethodConfig,
    start_policy: str,
    trajectories: Sequence[Trajectory],
    out_dir: Path,
    loggers: list[Any],
    cache: Path | None = None,
) -> tuple[str, dict[str, float]]:
    """One round: weigh ``trajectories`` (sampled by ``start_policy``), fine-tune
    ``start_policy`` on them, export to out_dir.

    With ``method.influence`` the weights are combined with the trajectories' on-policy
    influence under ``start_policy`` (artifacts cached in ``cache``, default ``out_dir``).
    The trajectories are streamed (a :class:`~drift.rollout.store.TrajectoryFile` is read
    line by line for the weights, the examples and the weighted file); only their weights
    are held.
    """
    weights = trajectory_weights(trajectories, method.weighting, method.beta)
    influence: dict[str, float] = {}
    scores = None
    if method.influence is not None:
        weights, scores, influence = influence_weighted(
            cfg, method, start_policy, trajectories, weights, cache or out_dir
        )
    if not np.any(weights > 0):
        raise ValueError(f"method {method.name}: no trajectory has a positive weight")
    model, tokenizer = load_policy(cfg.model, path=start_policy)
    if cfg.model.lora is not None:
        model = apply_lora(model, cfg.model.lora)
    result = train_policy(
        model,
        tokenizer,
        to_train_examples(trajectories, weights, method.loss_turns),
        cfg.trainer,
        method.normalize,
        output_dir=out_dir,
        seed=cfg.seed,
        loggers=loggers,
        shuffle=method.batch_order == BatchOrder.shuffle,
    )
    merge = cfg.model.lora.merge_on_export if cfg.model.lora is not None else True
    policy_dir = export_hf(result.model, tokenizer, out_dir / "policy", merge_lora=merge)
    # written last, like the policy: a failed round leaves an earlier finished file untouched
    write_trajectories(out_dir / "trajectories.jsonl", with_weights(trajectories, weights, scores))
    stats = {
        **influence,
        **weight_summary(weights),
        "train/examples": float(np.count_nonzero(weights)),
        "train/final_loss": result.final_loss,
        "cost/optimizer_steps": float(result.steps),
        "cost/train_seconds": result.wall_seconds,
    }
    log.info("%s: %d steps in %.1f s", method.name, result.steps, result.wall_seconds)
    return str(policy_dir), stats


def train_method(
    cfg: DriftConfig,
    method: MethodConfig,
    reference: str,
    rollouts: RolloutSet,
    problems: list[Problem],
    out_dir: Path,
    loggers: list[Any],
) -> tuple[str, dict[str, float]]:
    """Train ``method`` for ``method.rounds`` rounds (round r > 1 samples from round r-1's policy).

    Returns the final policy directory and statistics, including the cost of every round's
    rollouts (generated tokens, seconds), influence scores if any (validation rollout tokens,
    seconds) and training (optimiser steps, seconds).
    """
    policy, current = reference, rollouts
    totals = {"cost/generated_tokens": 0.0, "cost/rollout_seconds": 0.0}
    stats: dict[str, float] = {}
    for r in range(1, method.rounds + 1):
        round_dir = out_dir if method.rounds == 1 else out_dir / f"round{r}"
        cache = Path(cfg.paths.cache_dir)
        if r > 1:
            current = ensure_rollouts(cfg, policy, problems, path=round_dir / "rollouts.jsonl")
            cache = round_dir  # this round's policy is not shared with other runs
        totals["cost/generated_tokens"] += current.generated_tokens
        totals["cost/rollout_seconds"] += current.wall_seconds
        policy, stats_r = train_round(
            cfg, method, policy, current.trajectories, round_dir, loggers, cache
        )
        for key in [k for k in stats_r if k.startswith("cost/")]:
            totals[key] = totals.get(key, 0.0) + stats_r.pop(key)
        stats = stats_r
    return policy, {**stats, **totals}
