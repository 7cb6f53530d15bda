"""Settings of the online multi-turn GRPO baseline (``method=grpo``, key ``method.grpo``).

Defaults follow a CPU probe on the embedded task: ``loss_type=grpo`` (TRL's
default ``dapo`` collapsed on the embedded task), lr 5e-4 (TRL's 1e-6 learns nothing at the
tiny model's size), about 2,000 steps (150-600 steps were flat or collapsed).

Only ``drift.errors`` and ``drift.enums`` are imported: ``drift.config`` imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from drift.errors import ConfigError, require_choice, require_non_negative, require_positive


class GRPOLoss(str, Enum):
    """TRL ``GRPOConfig.loss_type``: how token losses are aggregated over a batch."""

    grpo = "grpo"
    dr_grpo = "dr_grpo"
    dapo = "dapo"
    bnpo = "bnpo"


class RewardScaling(str, Enum):
    """TRL ``GRPOConfig.scale_rewards``: divide advantages by the group's, the batch's or no std."""

    group = "group"
    batch = "batch"
    none = "none"


class AdvantageLevel(str, Enum):
    """What a token's advantage compares: its episode's return, or its turn's return-to-go."""

    episode = "episode"
    turn = "turn"


@dataclass
class GRPOSettings:
    """One GRPO run: ``steps`` optimiser steps of ``per_device_train_batch_size`` episodes.

    Each step samples ``per_device_train_batch_size / num_generations`` prompts and
    ``num_generations`` multi-turn episodes for each (the group whose returns are compared).
    ``max_completion_length`` bounds every assistant turn (tokens per turn, like
    ``rollout.max_new_tokens``), not the whole episode. ``use_cpu: null`` means "when no GPU".

    ``advantage: episode`` gives every token of an episode the episode's group-normalised return
    (TRL's GRPO); ``turn`` gives each assistant turn the return earned from that turn on,
    normalised among the group's episodes that reached that turn (:mod:`drift.training.grpo`).
    """

    steps: int = field(
        default=2000,
        metadata={"help": "optimiser steps"},
    )
    num_generations: int = field(
        default=8,
        metadata={"help": "episodes per prompt: the group whose returns are compared (>= 2)"},
    )
    per_device_train_batch_size: int = field(
        default=32,
        metadata={"help": "episodes per step: a multiple of num_generations"},
    )
    gradient_accumulation_steps: int = field(
        default=1,
        metadata={"help": "TRL's gradient accumulation"},
    )
    lr: float = field(
        default=5e-4,
        metadata={"help": "learning rate (TRL's 1e-6 learns nothing at the tiny model's size)"},
    )
    weight_decay: float = field(
        default=0.0,
        metadata={"help": "weight decay"},
    )
    max_grad_norm: float = field(
        default=1.0,
        metadata={"help": "gradient norm clipping"},
    )
    loss_type: GRPOLoss = field(
        default=GRPOLoss.grpo,
        metadata={
            "help": "TRL's loss_type: grpo, dr_grpo, dapo (collapsed in the CPU probe) or bnpo"
        },
    )
    scale_rewards: RewardScaling = field(
        default=RewardScaling.group,
        metadata={
            "help": "TRL's scale_rewards: divide advantages by the group's, the batch's or no std"
        },
    )
    advantage: AdvantageLevel = field(
        default=AdvantageLevel.turn,
        metadata={
            "help": "turn: each assistant turn gets its own return-to-go; episode: the episode's "
            "return (plain GRPO)"
        },
    )
    beta: float = field(
        default=0.0,
        metadata={
            "help": "KL to the reference, a frozen copy (0: none; conf/method/grpo.yaml: 0.04)"
        },
    )
    epsilon: float = field(
        default=0.2,
        metadata={"help": "PPO-style clipping of the probability ratio"},
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "sampling temperature of the episodes"},
    )
    top_p: float = field(
        default=1.0,
        metadata={"help": "nucleus sampling of the episodes, in (0, 1]"},
    )
    max_completion_length: int = field(
        default=24,
        metadata={
            "help": "tokens per assistant turn, not per episode (conf/method/grpo.yaml: "
            "rollout.max_new_tokens)"
        },
    )
    rollout_batch_size: int = field(
        default=1024,
        metadata={
            "help": "conversations per generation batch (conf/method/grpo.yaml: rollout.batch_size)"
        },
    )
    logging_steps: int = field(
        default=50,
        metadata={"help": "log every this many steps"},
    )
    use_cpu: bool | None = field(
        default=None,
        metadata={"help": "train on the CPU (null: when no GPU is visible)"},
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={"help": "recompute activations in the backward pass to save memory"},
    )

    def __post_init__(self) -> None:
        positive = ("steps", "per_device_train_batch_size", "gradient_accumulation_steps", "lr")
        positive += ("epsilon", "temperature", "max_completion_length", "rollout_batch_size")
        positive += ("logging_steps",)
        for key in positive:
            require_positive(f"method.grpo.{key}", getattr(self, key))
        for key in ("weight_decay", "max_grad_norm", "beta"):
            require_non_negative(f"method.grpo.{key}", getattr(self, key))
        if self.num_generations < 2:
            raise ConfigError(
                f"method.grpo.num_generations must be >= 2 (GRPO compares episodes within a "
                f"group), got {self.num_generations}"
            )
        if self.per_device_train_batch_size % self.num_generations:
            raise ConfigError(
                "method.grpo.per_device_train_batch_size counts episodes and must be a multiple "
                f"of method.grpo.num_generations ({self.num_generations}), "
                f"got {self.per_device_train_batch_size}"
            )
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"method.grpo.top_p must be in (0, 1], got {self.top_p}")
        self.loss_type = require_choice("method.grpo.loss_type", GRPOLoss, self.loss_type)
        self.scale_rewards = require_choice(
            "method.grpo.scale_rewards", RewardScaling, self.scale_rewards
        )
        self.advantage = require_choice("method.grpo.advantage", AdvantageLevel, self.advantage)


@dataclass
class ScoreSettings:
    """SCoRe (Kumar et al. 2024, arXiv 2409.12917; ``method=score``, key ``method.score``) as
    two phases of one GRPO run with ``method.grpo``'s settings
    (:func:`drift.training.grpo.score_phases`).

    Of ``method.grpo.steps`` optimiser steps the first ``stage1_steps`` are stage I, the rest
    stage II. Stage I: the reward is the second attempt's correctness r_2, with KL to the
    reference weighted ``beta2`` on the first attempt's tokens and ``method.grpo.beta`` (SCoRe's
    beta_1) on the second's. Stage II: the reward is r_1 + r_2 + ``alpha`` (r_2 - r_1) and the KL
    is beta_1 on every token. Both stages subtract ``reward.format_penalty`` per malformed
    answer. Episodes run the intrinsic protocol with two attempts (checked by
    :class:`drift.config.DriftConfig`).
    """

    stage1_steps: int = field(
        default=1000,
        metadata={
            "help": "SCoRe's stage I: the first steps of method.grpo.steps; stage II runs the rest"
        },
    )
    beta2: float = field(
        default=0.1,
        metadata={
            "help": "stage I's KL on the first attempt (the paper's value as we take it, unchecked)"
        },
    )
    alpha: float = field(
        default=10.0,
        metadata={
            "help": "stage II's bonus alpha (r_2 - r_1) (the paper's value as we take it, "
            "unchecked)"
        },
    )

    def __post_init__(self) -> None:
        require_positive("method.score.stage1_steps", self.stage1_steps)
        require_non_negative("method.score.beta2", self.beta2)
        require_non_negative("method.score.alpha", self.alpha)
