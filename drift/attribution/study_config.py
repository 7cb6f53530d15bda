"""Settings of the attribution study (the ``study`` config keys): pool, warm-up, budget.

The study (``drift experiment=attribution_demo``) builds an SFT pool with planted corruption,
warms a model up on it, scores the pool with every method, keeps the same share of it for every
method, retrains from the same base and evaluates (``drift.pipeline.attribution``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from drift.errors import ConfigError, require_positive


class CorruptionKind(str, Enum):
    """Planted corruption of a pool example (lower-case names as in YAML, upper-case aliases).

    - ``wrong_parity``: the final answer is the first candidate of the wrong parity (a
      consistent, learnable rule, so the warmed-up model assigns it real probability);
    - ``format``: the final answer is written ``answer: 3`` instead of ``<answer>3</answer>``
      (consistent, learnable, unparseable by the verifier);
    - ``repeat``: in a multi-turn example, the final answer repeats the last answer that
      feedback already ruled out (broken correction).

    ``task=arithmetic`` (worked replies such as ``43 + 12 = 55.``):

    - ``off_by_ten``: the result is 10 too high (``43 + 12 = 65.``);
    - ``wrong_operation``: the result of the expression with ``+`` and ``-`` swapped and ``*``
      read as ``+`` (``43 + 12 = 31.``), where that differs from the right result;
    - ``answer_first``: the right result written first (``55 = 43 + 12.``): consistent and
      learnable, but the last number, which the verifier reads, is an operand.
    """

    wrong_parity = "wrong_parity"
    format = "format"
    repeat = "repeat"
    off_by_ten = "off_by_ten"
    wrong_operation = "wrong_operation"
    answer_first = "answer_first"


TASK_KINDS: dict[str, tuple[CorruptionKind, ...]] = {
    "embedded": (CorruptionKind.wrong_parity, CorruptionKind.format, CorruptionKind.repeat),
    "arithmetic": (
        CorruptionKind.off_by_ten,
        CorruptionKind.wrong_operation,
        CorruptionKind.answer_first,
    ),
}
"""The corruption kinds each pool source (``task.name``) knows, in table order."""


DEBIAS_CHOICES = ("none", "cosine", "power", "residual")


def _default_corruption() -> dict[str, float]:
    return {"wrong_parity": 0.3, "format": 0.1, "repeat": 0.0}


@dataclass
class StudyConfig:
    """Pool, warm-up, validation and budget of the attribution study (shared by all methods)."""

    pool_size: int = field(default=2000, metadata={"help": "SFT examples in the pool"})
    multi_turn_fraction: float = field(
        default=0.0, metadata={"help": "pool examples showing 1-3 wrong answers before the last"}
    )
    corruption: dict[str, float] = field(
        default_factory=_default_corruption,
        metadata={"help": "kind -> share of the pool corrupted that way (disjoint, exact counts)"},
    )
    pool_seed: int = field(default=0, metadata={"help": "seed of the pool (plus the run seed)"})
    num_queries: int = field(default=64, metadata={"help": "validation queries (val split)"})
    rollouts_per_query: int = field(default=8, metadata={"help": "on-policy targets per query"})
    val_max_turns: int = field(
        default=1, metadata={"help": "turns of a validation rollout (1: sign = first answer)"}
    )
    warmup_steps: int = field(default=300, metadata={"help": "optimiser steps of the warm-up"})
    warmup_fraction: float = field(
        default=1.0, metadata={"help": "share of the pool the warm-up trains on (LESS: 0.05)"}
    )
    warmup_epochs: int | None = field(
        default=None, metadata={"help": "set: warm-up for this many epochs instead of steps"}
    )
    checkpoints: int = field(
        default=4, metadata={"help": "warm-up checkpoints LESS sums over (evenly spaced)"}
    )
    retrain_steps: int = field(default=300, metadata={"help": "steps of every retrain"})
    keep_fraction: float = field(
        default=0.5, metadata={"help": "the budget: share of the pool every method keeps"}
    )
    cg_samples: int = field(
        default=128, metadata={"help": "training examples in cg_if's Hessian-vector products"}
    )
    debias_ablation: list[str] = field(
        default_factory=lambda: ["none", "residual"],
        metadata={"help": "extra debias modes scored for drift_if (auroc only, no retrain)"},
    )

    def __post_init__(self) -> None:
        for key in ("pool_size", "num_queries", "rollouts_per_query", "val_max_turns"):
            require_positive(f"study.{key}", getattr(self, key))
        for key in ("warmup_steps", "checkpoints", "retrain_steps", "cg_samples"):
            require_positive(f"study.{key}", getattr(self, key))
        if self.warmup_epochs is not None:
            require_positive("study.warmup_epochs", self.warmup_epochs)
        for key in ("multi_turn_fraction",):
            if not 0 <= getattr(self, key) <= 1:
                raise ConfigError(f"study.{key} must be in [0, 1], got {getattr(self, key)}")
        for key in ("warmup_fraction", "keep_fraction"):
            if not 0 < getattr(self, key) <= 1:
                raise ConfigError(f"study.{key} must be in (0, 1], got {getattr(self, key)}")
        self._check_corruption()
        bad = [m for m in self.debias_ablation if m not in DEBIAS_CHOICES]
        if bad:
            raise ConfigError(f"study.debias_ablation: {bad} not among {', '.join(DEBIAS_CHOICES)}")

    def _check_corruption(self) -> None:
        kinds = {k.value for k in CorruptionKind}
        for kind, share in self.corruption.items():
            if kind not in kinds:
                raise ConfigError(
                    f"study.corruption.{kind}: unknown kind; choose from {', '.join(sorted(kinds))}"
                )
            if not 0 <= share < 1:
                raise ConfigError(f"study.corruption.{kind} must be in [0, 1), got {share}")
        total = sum(self.corruption.values())
        if total >= 1:
            raise ConfigError(f"study.corruption shares sum to {total}: leave some clean examples")
