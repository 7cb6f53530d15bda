"""TRL's log lines: forwarded to Lightning loggers, and their last values kept as stats."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

LAST_METRICS = (
    "reward",
    "episodes/solve_rate",
    "episodes/first_turn_acc",
    "episodes/final_acc",
    "phase",
    "loss",
)
"""The curves whose last logged value a GRPO run reports (:func:`last_metrics`)."""


class ForwardLogs(TrainerCallback):
    """Send the trainer's log lines to Lightning loggers (CSV, W&B) under ``train/``."""

    def __init__(self, loggers: list[Any]) -> None:
        self.loggers = loggers

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **_: Any):
        metrics = {f"train/{k}": float(v) for k, v in (logs or {}).items() if _is_number(v)}
        for logger in self.loggers:
            logger.log_metrics(metrics, step=state.global_step)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def last_metrics(history: list[dict[str, Any]]) -> dict[str, float]:
    """The last logged value of the reward and solve-rate curves, under ``train/``."""
    last: dict[str, float] = {}
    for row in history:
        last.update({f"train/{k}": float(row[k]) for k in LAST_METRICS if _is_number(row.get(k))})
    return last
