"""The ``trainer`` group: optimisation and Lightning settings shared by every method."""

from __future__ import annotations

from dataclasses import dataclass, field

from drift.enums import Schedule, Truncation
from drift.errors import ConfigError, require_non_negative, require_positive
from drift.training.strategy_config import DeepSpeedSettings, FSDPSettings


@dataclass
class TrainerConfig:
    """Optimisation and Lightning settings shared by every method.

    ``strategy`` is Lightning's; ``fsdp`` and ``deepspeed`` build those strategies from
    ``trainer.fsdp`` / ``trainer.deepspeed`` (:mod:`drift.training.strategy`).
    """

    max_epochs: int = field(
        default=1,
        metadata={"help": "passes over the training examples"},
    )
    max_steps: int = field(
        default=-1,
        metadata={"help": "optimiser steps at most (-1: no limit); caps GRPO's steps too"},
    )
    micro_batch_size: int = field(
        default=64,
        metadata={"help": "examples per forward and backward on each device"},
    )
    effective_batch_size: int = field(
        default=64,
        metadata={
            "help": "examples per optimiser step: a multiple of micro_batch_size x devices x "
            "num_nodes, the rest by gradient accumulation"
        },
    )
    lr: float = field(
        default=1e-3,
        metadata={"help": "AdamW's learning rate"},
    )
    weight_decay: float = field(
        default=0.0,
        metadata={"help": "AdamW's weight decay"},
    )
    warmup_ratio: float = field(
        default=0.0,
        metadata={"help": "share of the optimiser steps with linear warm-up from 0, in [0, 1)"},
    )
    schedule: Schedule = field(
        default=Schedule.constant,
        metadata={
            "help": "learning-rate schedule after the warm-up: constant, linear or cosine "
            "(transformers.get_scheduler)"
        },
    )
    grad_clip: float = field(
        default=1.0,
        metadata={"help": "gradient norm clipping (0: none)"},
    )
    accelerator: str = field(
        default="cpu",
        metadata={"help": "Lightning's accelerator: cpu, gpu, ..."},
    )
    devices: int = field(
        default=1,
        metadata={"help": "devices per node"},
    )
    num_nodes: int = field(
        default=1,
        metadata={"help": "nodes"},
    )
    strategy: str = field(
        default="auto",
        metadata={
            "help": "Lightning's strategy: auto, ddp, fsdp or deepspeed (the last two built from "
            "trainer.fsdp and trainer.deepspeed)"
        },
    )
    precision: str = field(
        default="32-true",
        metadata={"help": "Lightning's precision: 32-true, bf16-mixed, ..."},
    )
    max_length: int = field(
        default=256,
        metadata={"help": "tokens per training example at most; longer ones are truncated"},
    )
    truncation: Truncation = field(
        default=Truncation.right,
        metadata={
            "help": "which end of a training example longer than max_length is cut: right keeps "
            "the first tokens, left the last ones, with the final answer (the DRIFT authors')",
        },
    )
    num_workers: int = field(
        default=0,
        metadata={"help": "DataLoader worker processes"},
    )
    log_every_n_steps: int = field(
        default=10,
        metadata={"help": "Lightning logs metrics every this many optimiser steps"},
    )
    keep_checkpoints: bool = field(
        default=False,
        metadata={
            "help": "keep Lightning's checkpoint (weights and optimiser state) after a fit; by "
            "default it is deleted when the fit ends, the exported HF policy being the result"
        },
    )
    fsdp: FSDPSettings = field(
        default_factory=FSDPSettings,
        metadata={"help": "FSDP's settings (strategy fsdp)"},
    )
    deepspeed: DeepSpeedSettings = field(
        default_factory=DeepSpeedSettings,
        metadata={"help": "DeepSpeed's settings (strategy deepspeed)"},
    )

    def __post_init__(self) -> None:
        for key in ("max_epochs", "micro_batch_size", "effective_batch_size", "lr", "devices"):
            require_positive(f"trainer.{key}", getattr(self, key))
        require_non_negative("trainer.weight_decay", self.weight_decay)
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"trainer.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        per_step = self.micro_batch_size * self.devices * self.num_nodes
        if self.effective_batch_size % per_step:
            raise ConfigError(
                "trainer.effective_batch_size must be a multiple of trainer.micro_batch_size "
                f"x devices x nodes ({per_step}), got {self.effective_batch_size}"
            )

    @property
    def accumulate_grad_batches(self) -> int:
        return self.effective_batch_size // (self.micro_batch_size * self.devices * self.num_nodes)
