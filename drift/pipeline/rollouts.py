"""The rollout stage: multi-turn trajectories from a policy, cached with what they cost."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drift.config import DriftConfig
from drift.pipeline.cache_keys import cache_key, episodes_config, write_entry_config
from drift.pipeline.engines import build_engine, close_engine
from drift.reward.verifiers import build_verifier
from drift.rollout.driver import run_episodes
from drift.rollout.engine import Engine, SamplingParams
from drift.rollout.env import Environment
from drift.rollout.store import collect_rollouts
from drift.types import Problem, Trajectory
from drift.utils.hashing import config_hash
from drift.utils.io import write_json

log = logging.getLogger(__name__)


@dataclass
class RolloutSet:
    """Trajectories and the cost of sampling them (measured when they were first drawn)."""

    trajectories: Sequence[Trajectory]
    wall_seconds: float
    generated_tokens: int


def count_generated_tokens(
    policy: str, trajectories: Iterable[Trajectory], batch_size: int = 4096
) -> int:
    """Tokens the policy generated: every turn's text (less the prefill, which the policy did
    not write) plus its end-of-turn token. Turns are tokenised ``batch_size`` at a time, so
    memory holds one batch's token lists, not every turn's."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(policy)
    texts = (turn.text[len(t.prefill) :] for t in trajectories for turn in t.turns)
    total = 0
    while batch := list(itertools.islice(texts, batch_size)):
        ids = tokenizer(batch, add_special_tokens=False)["input_ids"]
        total += sum(len(x) for x in ids) + len(batch)
    return total


def rollout_config(cfg: DriftConfig, policy: str) -> dict[str, Any]:
    """What the rollouts of ``policy`` on the train split depend on
    (:func:`~drift.pipeline.cache_keys.episodes_config`)."""
    return {"artifact": "rollouts", **episodes_config(cfg, policy, "train")}


def rollout_path(cfg: DriftConfig, policy: str) -> Path:
    """Cache location of the rollouts of ``policy`` on the train split, keyed by
    :func:`rollout_config`."""
    return Path(cfg.paths.cache_dir) / f"rollouts-{cache_key(rollout_config(cfg, policy))}.jsonl"


class RolloutClock:
    """Seconds spent drawing one rollout set, summed over the runs that drew its parts: the
    time up to the last chunk on disk is saved (atomically) beside the partial file, and a
    resumed run adds its own time to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.earlier = json.loads(path.read_text())["wall_seconds"] if path.exists() else 0.0
        self.start = time.perf_counter()

    def seconds(self) -> float:
        """The earlier runs' seconds plus this one's so far."""
        return self.earlier + time.perf_counter() - self.start

    def save(self) -> None:
        write_json(self.path, {"wall_seconds": self.seconds()})

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def validation_config(cfg: DriftConfig, num_samples: int, max_turns: int) -> DriftConfig:
    """``cfg`` drawing ``num_samples`` episodes of at most ``max_turns`` turns per problem (the
    on-policy validation targets of influence scoring)."""
    return dataclasses.replace(
        cfg,
        task=dataclasses.replace(cfg.task, max_turns=max_turns),
        rollout=dataclasses.replace(cfg.rollout, num_samples=num_samples),
        objective=f"acc@{max_turns}",  # unused here; must fit the shorter episodes
    )


class _ChunkSampler:
    """Episodes of a chunk of prompts drawn from ``policy``; the engine starts on first use."""

    def __init__(self, cfg: DriftConfig, policy: str) -> None:
        self.cfg, self.policy = cfg, policy
        self.verifier = build_verifier(cfg.reward.verifier)
        self.env = Environment.from_config(cfg.task, cfg.env, cfg.rollout.prompt_format, cfg.prompt)
        self.engine: Engine | None = None

    def __call__(self, chunk: list[Problem]) -> list[Trajectory]:
        cfg = self.cfg
        if self.engine is None:
            self.engine = build_engine(cfg.rollout, cfg.model, self.policy)
        # Samples depend on the whole chunk, not on each prompt alone: HF ``generate`` draws
        # every row of a batch from one generator and batches by length, so one batched call
        # cannot seed prompts one by one. Chunks therefore have fixed boundaries (the store
        # resamples whole chunks on resume) and each is seeded from its first prompt.
        params = SamplingParams(
            temperature=cfg.rollout.temperature,
            top_p=cfg.rollout.top_p,
            max_new_tokens=cfg.rollout.max_new_tokens,
            seed=int(config_hash(cfg.seed, chunk[0].id)[:8], 16),
        )
        return run_episodes(
            self.engine,
            chunk,
            num_samples=cfg.rollout.num_samples,
            params=params,
            env=self.env,
            verifier=self.verifier,
            reward=cfg.reward,
            answer_format=cfg.task.answer_format,
        )

    def close(self) -> None:
        close_engine(self.engine)


def ensure_rollouts(
    cfg: DriftConfig,
    policy: str,
    problems: list[Problem],
    path: Path | None = None,
    key_config: dict[str, Any] | None = None,
) -> RolloutSet:
    """Sample ``rollout.num_samples`` episodes per problem from ``policy`` (resumable, cached).

    ``path`` defaults to the train split's cache entry (:func:`rollout_path`); the config that
    keys a cache entry (``key_config``; :func:`rollout_config` for the default entry) is written
    beside it when it is drawn."""
    if path is None:
        key_config, path = rollout_config(cfg, policy), rollout_path(cfg, policy)
    meta_path = path.with_suffix(".meta.json")
    clock = RolloutClock(path.with_suffix(".partial.meta.json"))
    sampler = _ChunkSampler(cfg, policy)
    fresh = not path.exists()
    try:
        trajectories = collect_rollouts(
            path,
            problems,
            cfg.rollout.chunk_prompts,
            sampler,
            description="rollouts",
            samples_per_prompt=cfg.rollout.num_samples,
            on_append=clock.save,
        )
    finally:
        sampler.close()
    if fresh or not meta_path.exists():
        tokens = count_generated_tokens(policy, trajectories)
        write_json(meta_path, {"wall_seconds": clock.seconds(), "generated_tokens": tokens})
        if key_config is not None:
            write_entry_config(path, key_config)
    clock.clear()
    meta = json.loads(meta_path.read_text())
    log.info("%d trajectories in %s", len(trajectories), path)
    return RolloutSet(trajectories, meta["wall_seconds"], meta["generated_tokens"])
