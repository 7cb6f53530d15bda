"""The rollout stage: multi-turn trajectories from the reference policy, cached by config hash."""

from __future__ import annotations

import logging
from pathlib import Path

from drift.config import DriftConfig
from drift.pipeline.engines import build_engine
from drift.reward.verifiers import build_verifier
from drift.rollout.driver import run_episodes
from drift.rollout.engine import SamplingParams
from drift.rollout.store import collect_rollouts
from drift.types import Problem, Trajectory
from drift.utils.hashing import config_hash

log = logging.getLogger(__name__)


def rollout_path(cfg: DriftConfig, reference: str) -> Path:
    """Cache location of the rollouts for this reference, task, rollout and reward config."""
    key = config_hash(reference, cfg.task, cfg.rollout, cfg.reward, cfg.seed)
    return Path(cfg.paths.cache_dir) / f"rollouts-{key}.jsonl"


def ensure_rollouts(cfg: DriftConfig, reference: str, problems: list[Problem]) -> list[Trajectory]:
    """Sample ``rollout.num_samples`` episodes per problem (resuming an interrupted stage)."""
    path = rollout_path(cfg, reference)
    verifier = build_verifier(cfg.reward.verifier)
    engine = None

    def sample_chunk(chunk: list[Problem]) -> list[Trajectory]:
        nonlocal engine
        if engine is None:
            engine = build_engine(cfg.rollout, cfg.model, reference)
        params = SamplingParams(
            temperature=cfg.rollout.temperature,
            top_p=cfg.rollout.top_p,
            max_new_tokens=cfg.rollout.max_new_tokens,
            seed=int(config_hash(cfg.seed, chunk[0].id)[:8], 16),
        )
        return run_episodes(
            engine,
            chunk,
            num_samples=cfg.rollout.num_samples,
            params=params,
            feedback=cfg.task.feedback,
            max_turns=cfg.task.max_turns,
            verifier=verifier,
            reward=cfg.reward,
        )

    trajectories = collect_rollouts(
        path, problems, cfg.rollout.chunk_prompts, sample_chunk, description="rollouts"
    )
    log.info("%d trajectories in %s", len(trajectories), path)
    return trajectories
