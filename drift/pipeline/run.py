"""The DRIFT-IW family pipeline: reference -> rollouts -> (weights -> train -> eval) per method."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning

from drift.config import DriftConfig
from drift.data.sources import load_problems
from drift.evaluation.report import markdown_table, print_table
from drift.pipeline.evaluate import evaluate_policy_dir
from drift.pipeline.loggers import build_loggers, close_loggers, log_metrics
from drift.pipeline.methods import train_method
from drift.pipeline.reference import ensure_reference
from drift.pipeline.rollouts import ensure_rollouts
from drift.utils.io import write_json

log = logging.getLogger(__name__)


def run(cfg: DriftConfig, resolved: dict[str, Any]) -> dict[str, Any]:
    """Run every method of ``cfg`` on shared artifacts; write ``results.json``; return it."""
    start = time.perf_counter()
    lightning.seed_everything(cfg.seed, workers=True, verbose=False)
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    methods = cfg.methods()
    reference = ensure_reference(cfg)
    test_problems = load_problems(cfg.task, "test")
    train_problems = load_problems(cfg.task, "train")
    rollouts = None
    if any(m.train for m in methods.values()):
        rollouts = ensure_rollouts(cfg, reference, train_problems)

    results: dict[str, dict[str, float]] = {}
    for name, method in methods.items():
        out_dir = run_dir / name
        loggers = build_loggers(cfg.logger, run_dir, name, resolved)
        try:
            stats: dict[str, float] = {}
            policy = reference
            if method.train:
                policy, stats = train_method(
                    cfg, method, reference, rollouts, train_problems, out_dir, loggers
                )
            metrics = evaluate_policy_dir(cfg, policy, test_problems)
            log_metrics(loggers, metrics, prefix="eval/")
            write_json(out_dir / "metrics.json", {**metrics, **stats})
            results[name] = metrics
            log.info("%s: %s", name, {k: round(v, 3) for k, v in metrics.items()})
        finally:
            close_loggers(loggers)

    summary = {"methods": results, "wall_seconds": time.perf_counter() - start}
    write_json(run_dir / "results.json", summary)
    (run_dir / "results.md").write_text(markdown_table(results) + "\n")
    print_table(results, title=f"{cfg.name} (seed {cfg.seed}, {summary['wall_seconds']:.0f} s)")
    return summary
