"""Evaluate a policy with the shared multi-turn evaluation on the test split."""

from __future__ import annotations

from drift.config import DriftConfig
from drift.evaluation.multiturn import evaluate_policy
from drift.pipeline.engines import open_engine
from drift.reward.verifiers import build_verifier
from drift.types import Problem


def evaluate_policy_dir(cfg: DriftConfig, policy: str, problems: list[Problem]) -> dict[str, float]:
    """Greedy (and sampled) multi-turn metrics of ``policy`` on ``problems``."""
    with open_engine(cfg.rollout, cfg.model, policy) as engine:
        return evaluate_policy(
            engine,
            problems,
            cfg.eval,
            cfg.task,
            cfg.env,
            build_verifier(cfg.reward.verifier),
            cfg.reward,
            seed=cfg.seed,
            prompt=cfg.prompt,
        )
