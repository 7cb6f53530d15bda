"""The ``logger`` group: where metrics go (CSV, Weights & Biases or nowhere)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drift.enums import LoggerName, WandbMode
from drift.errors import ConfigError

WANDB_RESUME = ("allow", "must", "never", "auto")
WANDB_LOG_MODEL = {"false": False, "true": True, "all": "all"}


@dataclass
class LoggerConfig:
    """Where metrics go: nowhere but files, a CSV logger, or Weights & Biases.

    The W&B keys go to Lightning's ``WandbLogger`` (and through it to ``wandb.init``)."""

    name: LoggerName = field(
        default=LoggerName.csv,
        metadata={"help": "csv (Lightning's CSV logger in the run directory), wandb or none"},
    )
    project: str = field(
        default="drift",
        metadata={"help": "W&B project"},
    )
    group: str | None = field(
        default=None,
        metadata={"help": "W&B group (null: none)"},
    )
    mode: WandbMode = field(
        default=WandbMode.offline,
        metadata={"help": "W&B mode: offline (no account needed; wandb sync later) or online"},
    )
    tags: list[str] = field(
        default_factory=list,
        metadata={"help": "W&B tags"},
    )
    entity: str | None = field(
        default=None, metadata={"help": "W&B team or user the runs go to (null: your default)"}
    )
    id: str | None = field(
        default=None,
        metadata={
            "help": "W&B run id, to resume a run with logger.resume; a multirun's job gets "
            "<id>-job<num>, and in a comparison each method's run <id>-<method>"
        },
    )
    resume: str | None = field(
        default=None,
        metadata={"help": "wandb.init's resume: allow, must, never or auto (null: a new run)"},
    )
    log_model: str = field(
        default="false",
        metadata={
            "help": "WandbLogger's log_model: true logs each fit's Lightning checkpoint as a "
            "model artifact when the fit ends (before drift deletes it), all every checkpoint "
            "saved, false none"
        },
    )
    kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "more keyword arguments for WandbLogger / wandb.init, as they are"},
    )

    def __post_init__(self) -> None:
        if self.resume is not None and self.resume not in WANDB_RESUME:
            raise ConfigError(
                f"logger.resume must be one of {', '.join(WANDB_RESUME)} or null, got "
                f"{self.resume!r}"
            )
        if str(self.log_model).lower() not in WANDB_LOG_MODEL:
            raise ConfigError(
                f"logger.log_model must be true, false or all, got {self.log_model!r}"
            )
