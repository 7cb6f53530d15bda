"""Evaluate a policy with the shared multi-turn evaluation on the test split, keeping its
episodes (``eval/trajectories.jsonl``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from drift.config import DriftConfig
from drift.enums import PromptFormat
from drift.evaluation.drift_paper.report import benchmark_metrics, benchmark_table
from drift.evaluation.multiturn import GREEDY, evaluation_episodes, evaluation_metrics
from drift.pipeline.engines import open_engine
from drift.reward.verifiers import build_verifier
from drift.types import Problem, Trajectory
from drift.utils.io import atomic_open, write_jsonl

log = logging.getLogger(__name__)

EPISODES_FILE = Path("eval") / "trajectories.jsonl"
"""Where an evaluation's episodes go, under the directory that holds its ``metrics.json``."""

TURN_TABLE_FILE = Path("eval") / "turns.md"
"""Under the DRIFT formats: the test split's greedy episodes in the authors' per-turn table."""


def write_episodes(path: Path, episodes: Mapping[str, list[Trajectory]]) -> None:
    """Write ``episodes`` as JSONL, atomically: one trajectory per line (the fields of the
    rollout files) with ``decoding`` (``greedy`` or ``sampled``) first."""
    write_jsonl(
        path,
        ({"decoding": decoding, **t.to_dict()} for decoding, ts in episodes.items() for t in ts),
    )


def evaluate_policy_dir(
    cfg: DriftConfig, policy: str, problems: list[Problem], out_dir: Path
) -> dict[str, float]:
    """Greedy (and sampled) multi-turn metrics of ``policy`` on ``problems``; the episodes are
    written to ``out_dir / EPISODES_FILE``. With ``eval.suite`` set, the suite's metrics follow
    (:func:`drift.pipeline.eval_suite.evaluate_suite`)."""
    suite: dict[str, float] = {}
    with open_engine(cfg.rollout, cfg.model, policy) as engine:
        episodes = evaluation_episodes(
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
        if cfg.eval.suite is not None:
            from drift.pipeline.eval_suite import evaluate_suite  # it imports write_episodes

            suite = evaluate_suite(engine, cfg, out_dir)
    write_episodes(out_dir / EPISODES_FILE, episodes)
    if cfg.eval.prompt_format != PromptFormat.plain and GREEDY in episodes:
        _write_turn_table(cfg, episodes[GREEDY], out_dir)
    return {**evaluation_metrics(episodes, cfg.task.max_turns), **suite}


def _write_turn_table(cfg: DriftConfig, greedy: list[Trajectory], out_dir: Path) -> None:
    """Log the greedy test episodes in the suite's per-turn table (the authors' per-turn and
    cumulative accuracy and correction rate, drift's valid rate: one minus the malformed share)
    and write it to ``out_dir / TURN_TABLE_FILE``."""
    label = f"{cfg.task.name.value} test split, {cfg.eval.prompt_format.value}"
    metrics = benchmark_metrics(greedy, cfg.task.max_turns)
    table = benchmark_table(label, metrics, cfg.task.max_turns)
    with atomic_open(out_dir / TURN_TABLE_FILE) as fh:
        fh.write(table + "\n")
    log.info("%s per turn:\n%s", out_dir.name, table)
