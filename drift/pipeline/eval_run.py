"""``drift eval``: evaluate a saved policy on the test split, as a run of its own."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from drift.config import DriftConfig
from drift.evaluation.report import print_results, results_markdown
from drift.pipeline.evaluate import evaluate_policy_dir
from drift.pipeline.loggers import build_loggers, close_loggers, log_metrics
from drift.rollout.prompts import load_prompts
from drift.utils.io import write_json
from drift.utils.progress import quiet_library_bars

log = logging.getLogger(__name__)


def policy_label(policy: Path) -> str:
    """The name a saved policy goes by in the results: its method's directory for a run's
    ``<method>/policy`` (``drift_iw``; ``drift_iw-round2`` for a round's), else the directory's
    own name."""
    if policy.name != "policy":
        return policy.name
    parent = policy.parent
    if parent.name.startswith("round") and parent.parent.name:
        return f"{parent.parent.name}-{parent.name}"
    return parent.name or policy.name


def evaluate_saved(cfg: DriftConfig, policy: Path, resolved: dict[str, Any]) -> dict[str, Any]:
    """Evaluate ``policy`` with the shared multi-turn evaluation (``eval.*``, ``task``, ``env``,
    ``prompt``, ``reward``, ``rollout`` for the engine) into the run directory, laid out as a
    training run's method ``<label>`` (:func:`policy_label`): ``<label>/metrics.json``,
    ``<label>/eval/trajectories.jsonl``, ``results.json`` (with ``policy``) and ``results.md``.
    Returns the results."""
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    quiet_library_bars()
    start = time.perf_counter()
    run_dir = Path(cfg.paths.output_dir)
    label = policy_label(policy)
    problems = load_prompts(cfg, "test", str(policy))
    loggers = build_loggers(cfg.logger, run_dir, label, resolved)
    try:
        metrics = evaluate_policy_dir(cfg, str(policy), problems, run_dir / label)
        log_metrics(loggers, metrics, prefix="eval/")
    finally:
        close_loggers(loggers)
    write_json(run_dir / label / "metrics.json", metrics)
    results = {label: metrics}
    wall = time.perf_counter() - start
    summary = {"methods": results, "policy": str(policy), "wall_seconds": wall}
    write_json(run_dir / "results.json", summary)
    (run_dir / "results.md").write_text(results_markdown(results) + "\n")
    print_results(results, title=f"{label} (seed {cfg.seed}, {wall:.0f} s): {policy}")
    return summary
