"""The ``method`` group: one method, with its on-policy influence settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from drift.attribution.scoring_config import PreconditionerName, ScoringConfig, ScoringMethod
from drift.enums import BatchOrder, InfluenceCombine, LossTurns, MethodFamily, Normalize, Weighting
from drift.errors import ConfigError, require_identifier, require_positive
from drift.training.grpo_config import AdvantageLevel, GRPOSettings, ScoreSettings
from drift.weighting.trajectory import user_weighting


@dataclass
class InfluenceConfig:
    """On-policy influence of each round's trajectories and how it changes their weights.

    The validation targets are ``rollouts_per_query`` episodes of at most ``val_max_turns``
    turns (``null``: ``task.max_turns``) drawn by the round's policy on the first
    ``num_queries`` problems of the val split. ``combine``: ``product`` multiplies each return
    weight by exp(z / ``temperature``), z the influence standardised over all trajectories;
    ``drop_negative`` zeroes the weight of trajectories with negative influence. Both then
    renormalise the weights to mean 1 per prompt, as DRIFT-IW does.
    """

    combine: InfluenceCombine = field(
        default=InfluenceCombine.product,
        metadata={
            "help": "product: each weight times exp(z / temperature), z the standardised influence;"
            " drop_negative: zero weight for negative influence"
        },
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "product's temperature: the larger, the closer to drift_iw's weights"},
    )
    num_queries: int = field(
        default=64,
        metadata={"help": "validation queries: the first problems of the val split"},
    )
    rollouts_per_query: int = field(
        default=8,
        metadata={"help": "episodes the round's policy draws per validation query"},
    )
    val_max_turns: int | None = field(
        default=None,
        metadata={"help": "turns of those episodes at most (null: task.max_turns)"},
    )

    def __post_init__(self) -> None:
        for key in ("temperature", "num_queries", "rollouts_per_query"):
            require_positive(f"method.influence.{key}", getattr(self, key))
        if self.val_max_turns is not None:
            require_positive("method.influence.val_max_turns", self.val_max_turns)


@dataclass
class MethodConfig:
    """One method: how its training data is made (weights, selection or online RL) and trained.

    ``family`` picks the pipeline: ``iw`` weighs shared rollouts (reference, uniform SFT, RFT,
    DRIFT-IW), ``attribution`` scores and refines a data pool, ``grpo`` trains online (``score``,
    family ``grpo``: SCoRe's two stages as phases of the GRPO run, :class:`ScoreSettings`).
    ``scoring`` (attribution family) says how the pool is scored and refined; ``null`` keeps
    the whole pool (the ``full`` baseline). ``influence`` (iw family: ``drift_iw_if``) scores
    every round's trajectories with the ``drift_if`` scorer of ``scoring`` (its refinement keys
    are unused) and combines the scores with the weights.
    """

    name: str = field(
        default="???",
        metadata={"help": "the method's name: its directory and its key in the results"},
    )
    family: MethodFamily = field(
        default=MethodFamily.iw,
        metadata={
            "help": "iw: weights shared rollouts (reference, uniform_sft, rft, drift_iw); "
            "attribution: scores and refines a data pool; grpo: trains online"
        },
    )
    train: bool = field(
        default=True,
        metadata={"help": "false: evaluate the reference policy without training it"},
    )
    weighting: str = field(
        default=Weighting.uniform.value,
        metadata={
            "help": "uniform, drift_iw, rft, or a dotted path to your weighting (README, Plug-ins)"
        },
    )
    beta: float = field(
        default=0.1,
        metadata={
            "help": "DRIFT-IW's temperature: weights exp(R / beta), normalised to mean 1 per prompt"
        },
    )
    normalize: Normalize = field(
        default=Normalize.mean,
        metadata={
            "help": "a step's loss divided by its number of examples (mean) or the sum of their "
            "weights (weight_sum)"
        },
    )
    loss_turns: LossTurns = field(
        default=LossTurns.final,
        metadata={"help": "assistant turns that carry the loss: final (the last) or all"},
    )
    batch_order: BatchOrder = field(
        default=BatchOrder.shuffle,
        metadata={
            "help": "shuffle: a seeded shuffle of the trajectories; prompt_groups: rollout "
            "order, unshuffled (the DRIFT authors' --disable_shuffle), so that each optimiser "
            "step holds whole groups of a prompt's trajectories"
        },
    )
    rounds: int = field(
        default=1,
        metadata={
            "help": "> 1: iterated DRIFT-IW, each round re-samples from the last round's policy"
        },
    )
    scoring: ScoringConfig | None = field(
        default=None,
        metadata={
            "help": "how the attribution pool is scored and refined (null: the whole pool); with "
            "influence, the drift_if scorer"
        },
    )
    influence: InfluenceConfig | None = field(
        default=None,
        metadata={
            "help": "on-policy influence that changes the weights of every round (null: none)"
        },
    )
    grpo: GRPOSettings | None = field(
        default=None,
        metadata={"help": "the GRPO trainer's settings (family grpo)"},
    )
    score: ScoreSettings | None = field(
        default=None,
        metadata={"help": "SCoRe's two stages on the GRPO trainer (null: plain GRPO)"},
    )

    def __post_init__(self) -> None:
        if self.name != MISSING:  # the dataclass default; a loaded config always has a name
            require_identifier("method.name", self.name)
        require_positive("method.beta", self.beta)
        user_weighting(self.weighting)  # a dotted path is imported and checked here
        require_positive("method.rounds", self.rounds)
        if self.family == MethodFamily.grpo and self.grpo is None:
            raise ConfigError("method.grpo must hold the GRPO settings when method.family=grpo")
        if self.influence is not None:
            self._check_influence()
        if self.score is not None:
            self._check_score()

    def _check_score(self) -> None:
        assert self.score is not None
        if self.family != MethodFamily.grpo or self.grpo is None:
            raise ConfigError(
                "method.score (SCoRe) runs on the GRPO trainer: it needs method.family=grpo and "
                f"method.grpo, got family={self.family.value}"
            )
        if self.grpo.advantage != AdvantageLevel.turn:
            raise ConfigError(
                "method.score weighs the KL per attempt through turn-level credit: "
                f"method.grpo.advantage must be turn, got {self.grpo.advantage.value}"
            )
        if self.score.stage1_steps >= self.grpo.steps:
            raise ConfigError(
                f"method.score.stage1_steps ({self.score.stage1_steps}) must be below "
                f"method.grpo.steps ({self.grpo.steps}), the steps of both stages: stage II "
                "gets the rest"
            )

    def _check_influence(self) -> None:
        if self.family != MethodFamily.iw:
            raise ConfigError(
                f"method.influence applies to family=iw only, got family={self.family.value}"
            )
        if self.scoring is None or self.scoring.method != ScoringMethod.drift_if:
            raise ConfigError(
                "method.scoring must hold the influence scorer (method.scoring.method=drift_if) "
                "when method.influence is set"
            )
        if self.scoring.preconditioner not in (
            PreconditionerName.identity,
            PreconditionerName.fisher,
        ):
            raise ConfigError(
                "method.scoring.preconditioner must be identity or fisher with method.influence, "
                f"got {self.scoring.preconditioner.value}"
            )
