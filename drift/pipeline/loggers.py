"""Lightning loggers from ``logger=`` config, one per method, always closed.

With ``logger=wandb`` each method gets a W&B run (named ``<method>-seed<seed>``, in the group
``logger.group``, so every run of a comparison or multirun shares it) holding the resolved
config, the training curves, the evaluation metrics and, when it is closed after a successful
method, a table of sample trajectories, the plots and the rollout, weight and score files as
artifacts (:mod:`drift.pipeline.wandb_extras`). ``logger.entity``, ``id``, ``resume``,
``log_model`` and ``kwargs`` go to Lightning's ``WandbLogger`` (``kwargs`` last, so they can
replace the name, job type or tags). ``WANDB_MODE`` from the environment wins over
``logger.mode``; nothing from the environment is logged.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger

from drift.config import WANDB_LOG_MODEL, LoggerConfig, LoggerName


class RunLogger(WandbLogger):
    """A W&B logger for one method that remembers its metrics and files until it is closed."""

    def __init__(self, out_dir: Path, method: str, seed: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.out_dir, self.method, self.seed = out_dir, method, seed
        self.eval_metrics: dict[str, float] = {}
        self.extra_files: list[tuple[Path, str]] = []

    def close(self, failed: bool) -> None:
        """Log the method's outputs (unless it failed) and finish the W&B run."""
        self.finalize("failed" if failed else "success")
        if self._experiment is None:
            return
        if not failed:
            from drift.pipeline.wandb_extras import log_outputs

            log_outputs(
                self.experiment,
                self.method,
                self.out_dir,
                self.eval_metrics,
                self.extra_files,
                self.seed,
            )
        self.experiment.finish(exit_code=1 if failed else 0)


def build_loggers(
    cfg: LoggerConfig, run_dir: Path, method: str, config: dict[str, Any]
) -> list[Any]:
    """Loggers for one method's training and evaluation (none, CSV or W&B)."""
    if cfg.name == LoggerName.none:
        return []
    if cfg.name == LoggerName.csv:
        from lightning.pytorch.loggers import CSVLogger

        return [CSVLogger(save_dir=str(run_dir), name="csv", version=method)]
    seed = config.get("seed")
    logged = {k: v for k, v in config.items() if k != "hydra"}
    compare = config.get("compare") or {}
    logged["method"] = compare.get(method, config.get("method"))
    kwargs: dict[str, Any] = {
        "project": cfg.project,
        "entity": cfg.entity,
        "group": cfg.group,
        "job_type": method,
        "name": method if seed is None else f"{method}-seed{seed}",
        "tags": list(cfg.tags),
        "log_model": WANDB_LOG_MODEL[str(cfg.log_model).lower()],
        "save_dir": str(run_dir),
        "config": logged,
        "mode": os.environ.get("WANDB_MODE", cfg.mode.value),
        "reinit": "finish_previous",
    }
    if cfg.id is not None:  # one W&B run per method: a comparison's get one id each
        kwargs["id"] = f"{cfg.id}-{method}" if compare else cfg.id
    if cfg.resume is not None:
        kwargs["resume"] = cfg.resume
    logger = RunLogger(out_dir=run_dir / method, method=method, seed=seed, **kwargs | cfg.kwargs)
    return [logger]


def log_metrics(loggers: list[Any], metrics: dict[str, float], prefix: str = "") -> None:
    """Send ``metrics`` to every logger under ``prefix`` (W&B runs keep ``eval/`` for plots)."""
    if not metrics:
        return
    for logger in loggers:
        logger.log_metrics({f"{prefix}{k}": v for k, v in metrics.items()})
        if isinstance(logger, RunLogger) and prefix == "eval/":
            logger.eval_metrics.update(metrics)


def add_artifact(loggers: list[Any], path: Path, kind: str) -> None:
    """Log ``path`` (a file outside the method's directory, e.g. cached rollouts) as an artifact
    of type ``kind`` when the W&B run closes."""
    for logger in loggers:
        if isinstance(logger, RunLogger):
            logger.extra_files.append((Path(path), kind))


def close_loggers(loggers: list[Any]) -> None:
    """Flush and close loggers (``wandb.finish`` for W&B), even after a failure.

    Called from a ``finally`` block: an exception in flight marks the W&B run failed and skips
    its outputs.
    """
    failed = sys.exc_info()[1] is not None
    for logger in loggers:
        if isinstance(logger, RunLogger):
            logger.close(failed)
        else:
            logger.finalize("failed" if failed else "success")
