"""The DRIFT-IW family pipeline: reference -> rollouts -> (weights -> train -> eval) per method."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import lightning
import torch

from drift.config import DriftConfig, MethodConfig, MethodFamily, TrainerConfig
from drift.evaluation.report import print_results, results_markdown
from drift.pipeline.cost import method_cost
from drift.pipeline.evaluate import evaluate_policy_dir
from drift.pipeline.loggers import add_artifact, build_loggers, close_loggers, log_metrics
from drift.pipeline.methods import train_method
from drift.pipeline.reference import ensure_reference
from drift.pipeline.rollouts import RolloutSet, ensure_rollouts, rollout_path
from drift.rollout.prompts import load_prompts
from drift.training.grpo import score_phases, train_grpo
from drift.training.grpo_config import GRPOSettings
from drift.types import Problem
from drift.utils.io import write_json
from drift.utils.memory import release_memory
from drift.utils.progress import quiet_library_bars

log = logging.getLogger(__name__)


def grpo_settings(settings: GRPOSettings, trainer: TrainerConfig) -> GRPOSettings:
    """``settings`` with its steps capped by ``trainer.max_steps`` (when > 0), which caps every
    method's optimiser steps, GRPO's too (``debug=fast`` relies on it)."""
    if trainer.max_steps > 0 and settings.steps > trainer.max_steps:
        return dataclasses.replace(settings, steps=trainer.max_steps)
    return settings


def _train(
    cfg: DriftConfig,
    name: str,
    method: MethodConfig,
    reference: str,
    rollouts: RolloutSet | None,
    train_problems: list[Problem],
    loggers: list[Any],
) -> tuple[str, dict[str, float]]:
    """Train method ``name`` from the reference (into ``<run dir>/<name>``); return its policy
    and training statistics."""
    out_dir = Path(cfg.paths.output_dir) / name
    if not method.train:
        return reference, {}
    if method.family == MethodFamily.grpo:
        assert method.grpo is not None  # checked by MethodConfig
        settings = grpo_settings(method.grpo, cfg.trainer)
        return train_grpo(
            cfg.model,
            cfg.task,
            cfg.reward,
            settings,
            reference,
            train_problems,
            out_dir,
            cfg.seed,
            loggers=loggers,
            env=cfg.env,
            phases=score_phases(method.score, settings) if method.score is not None else None,
            prompt_format=cfg.rollout.prompt_format,
            prompt=cfg.prompt,
        )
    assert rollouts is not None
    add_artifact(loggers, rollout_path(cfg, reference), "rollouts")
    return train_method(cfg, method, reference, rollouts, train_problems, out_dir, loggers)


def run(cfg: DriftConfig, resolved: dict[str, Any]) -> dict[str, Any]:
    """Run every method of ``cfg`` on shared artifacts; write ``results.json``; return it."""
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    quiet_library_bars()
    if any(m.family == MethodFamily.attribution for m in cfg.methods().values()):
        from drift.pipeline.attribution import run_attribution

        return run_attribution(cfg, resolved)
    start = time.perf_counter()
    lightning.seed_everything(cfg.seed, workers=True, verbose=False)
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    methods = cfg.methods()
    reference = ensure_reference(cfg)
    test_problems = load_prompts(cfg, "test", reference)
    train_problems = load_prompts(cfg, "train", reference)
    rollouts = None
    if any(m.train and m.family == MethodFamily.iw for m in methods.values()):
        rollouts = ensure_rollouts(cfg, reference, train_problems)
        release_memory()

    results: dict[str, dict[str, float]] = {}
    for name, method in methods.items():
        loggers = build_loggers(cfg.logger, run_dir, name, resolved)
        try:
            policy, stats = _train(cfg, name, method, reference, rollouts, train_problems, loggers)
            cost = method_cost(method, stats)
            log_metrics(loggers, {**stats, **cost})  # weights/*, train/final_loss, cost/*
            metrics = evaluate_policy_dir(cfg, policy, test_problems, run_dir / name)
            log_metrics(loggers, metrics, prefix="eval/")
            write_json(run_dir / name / "metrics.json", {**metrics, **stats, **cost})
            results[name] = {**metrics, **cost}
            log.info("%s: %s", name, {k: round(v, 3) for k, v in metrics.items()})
        finally:
            close_loggers(loggers)
            # the method's model and optimiser state back to the system; not before the loggers
            # close: W&B's scans the checkpoint callback through a weak reference at close
            release_memory()

    summary = {"methods": results, "wall_seconds": time.perf_counter() - start}
    write_json(run_dir / "results.json", summary)
    (run_dir / "results.md").write_text(results_markdown(results) + "\n")
    print_results(results, title=f"{cfg.name} (seed {cfg.seed}, {summary['wall_seconds']:.0f} s)")
    return summary
