"""Lightning loggers from ``logger=`` config, one per method, always closed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from drift.config import LoggerConfig, LoggerName


def build_loggers(
    cfg: LoggerConfig, run_dir: Path, method: str, config: dict[str, Any]
) -> list[Any]:
    """Loggers for one method's training and evaluation (none, CSV or W&B)."""
    if cfg.name == LoggerName.NONE:
        return []
    if cfg.name == LoggerName.CSV:
        from lightning.pytorch.loggers import CSVLogger

        return [CSVLogger(save_dir=str(run_dir), name="csv", version=method)]
    from lightning.pytorch.loggers import WandbLogger

    os.environ.setdefault("WANDB_MODE", cfg.mode.value)
    logger = WandbLogger(
        project=cfg.project,
        group=cfg.group,
        name=method,
        save_dir=str(run_dir),
        tags=list(cfg.tags),
        config={**config, "method": config.get("compare", {}).get(method, config.get("method"))},
        reinit="finish_previous",
    )
    return [logger]


def log_metrics(loggers: list[Any], metrics: dict[str, float], prefix: str = "") -> None:
    """Send ``metrics`` to every logger under ``prefix``."""
    for logger in loggers:
        logger.log_metrics({f"{prefix}{k}": v for k, v in metrics.items()})


def close_loggers(loggers: list[Any]) -> None:
    """Flush and close loggers (``wandb.finish`` for W&B), even after a failure."""
    for logger in loggers:
        logger.finalize("success")
        experiment = getattr(logger, "_experiment", None)
        if experiment is not None and hasattr(experiment, "finish"):
            experiment.finish()
