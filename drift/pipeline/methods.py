"""One method on shared rollouts: weights -> weighted SFT from the reference -> HF export."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from drift.config import DriftConfig, MethodConfig
from drift.models.factory import apply_lora, export_hf, load_policy
from drift.rollout.store import write_trajectories
from drift.training.fit import train_policy
from drift.types import Trajectory
from drift.weighting.trajectory import to_train_examples, trajectory_weights

log = logging.getLogger(__name__)


def weigh(trajectories: list[Trajectory], method: MethodConfig) -> list[Trajectory]:
    """Copies of ``trajectories`` carrying this method's weights."""
    weights = trajectory_weights(trajectories, method.weighting, method.beta)
    return [
        Trajectory(**{**t.__dict__, "weight": float(w)})
        for t, w in zip(trajectories, weights, strict=True)
    ]


def weight_summary(weighted: list[Trajectory]) -> dict[str, float]:
    """How concentrated the weights are: share kept, max weight, effective sample size ratio."""
    w = np.array([t.weight for t in weighted], dtype=np.float64)
    ess = w.sum() ** 2 / max((w**2).sum(), 1e-12)
    return {
        "weights/kept_fraction": float((w > 0).mean()),
        "weights/max": float(w.max()),
        "weights/ess_fraction": float(ess / len(w)),
    }


def train_method(
    cfg: DriftConfig,
    method: MethodConfig,
    reference: str,
    trajectories: list[Trajectory],
    out_dir: Path,
    loggers: list[Any],
) -> tuple[str, dict[str, float]]:
    """Train ``method`` from the reference on its weighted trajectories.

    Returns the exported policy directory and training statistics.
    """
    weighted = weigh(trajectories, method)
    write_trajectories(out_dir / "trajectories.jsonl", weighted)
    examples = to_train_examples(weighted, [t.weight for t in weighted], method.loss_turns)
    if not examples:
        raise ValueError(f"method {method.name}: no trajectory has a positive weight")
    model, tokenizer = load_policy(cfg.model, path=reference)
    if cfg.model.lora is not None:
        model = apply_lora(model, cfg.model.lora)
    result = train_policy(
        model,
        tokenizer,
        examples,
        cfg.trainer,
        method.normalize,
        output_dir=out_dir,
        seed=cfg.seed,
        loggers=loggers,
    )
    policy_dir = out_dir / "policy"
    merge = cfg.model.lora.merge_on_export if cfg.model.lora is not None else True
    export_hf(result.model, tokenizer, policy_dir, merge_lora=merge)
    stats = {
        **weight_summary(weighted),
        "train/examples": float(len(examples)),
        "train/steps": float(result.steps),
        "train/wall_seconds": result.wall_seconds,
        "train/final_loss": result.final_loss,
    }
    log.info("%s: %d steps in %.1f s", method.name, result.steps, result.wall_seconds)
    return str(policy_dir), stats
