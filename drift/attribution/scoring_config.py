"""Choices and settings of attribution scoring (a method's ``method.scoring`` config keys).

Every choice is a str-Enum (OmegaConf rejects ``typing.Literal``) with, as in
:mod:`drift.enums`, one member per choice named as YAML spells it (OmegaConf matches names).
Defaults follow the DRIFT-IF paper's wording where it has one
(signed ±1 targets, normalised per query), our own measurements where it does not (cosine
debiasing: README, "Data attribution").
Per-method settings (LESS: reference targets, Adam, cosine; PRISM: pair targets, no per-query
normalisation) belong in the method's YAML, not here; LESS refuses a preconditioner other than
``adam`` and a debiasing other than ``cosine`` (it has no others, and would ignore them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from drift.enums import LossTurns
from drift.errors import ConfigError, require_choice, require_non_negative, require_positive


class ScoringMethod(str, Enum):
    drift_if = "drift_if"
    less = "less"
    prism = "prism"
    grad_sim = "grad_sim"
    cg_if = "cg_if"
    perplexity = "perplexity"
    embedding = "embedding"
    random = "random"


class SignScheme(str, Enum):
    """How on-policy validation rollouts are signed by correctness."""

    sign = "sign"
    balanced = "balanced"
    advantage = "advantage"


class PreconditionerName(str, Enum):
    identity = "identity"
    adam = "adam"
    fisher = "fisher"
    cg = "cg"


class AdamForm(str, Enum):
    """LESS's code ((β1m+(1-β1)g)/sqrt(β2v+(1-β2)g²+ε)) or its paper (bias-corrected, ε outside)."""

    less_code = "less_code"
    paper = "paper"


class DebiasMode(str, Enum):
    none = "none"
    cosine = "cosine"
    power = "power"
    residual = "residual"


class PerplexityMode(str, Enum):
    low = "low"
    mid = "mid"


class EmbeddingReduce(str, Enum):
    """Similarity of a training text to the query set: nearest query, or mean over queries."""

    max = "max"
    mean = "mean"


class Refinement(str, Enum):
    top = "top"
    drop_negative = "drop_negative"
    weights = "weights"


class WeightMode(str, Enum):
    """Scores to SFT weights: softmax of z-scores at a temperature, or linear in rank."""

    softmax = "softmax"
    rank = "rank"


@dataclass
class ScoringConfig:
    """How scores are formed from features and turned into a selection or weights."""

    method: ScoringMethod = field(default=ScoringMethod.drift_if, metadata={"help": "scorer"})
    scheme: SignScheme = field(
        default=SignScheme.sign, metadata={"help": "signing of on-policy validation rollouts"}
    )
    loss_turns: LossTurns = field(
        default=LossTurns.final, metadata={"help": "assistant turns of a target rollout with loss"}
    )
    normalize_per_group: bool = field(
        default=True, metadata={"help": "unit-normalise each query's signed sum before summing"}
    )
    preconditioner: PreconditionerName = field(
        default=PreconditionerName.identity,
        metadata={
            "help": "between training features and targets: identity, adam (LESS's Adam-transformed"
            " gradients), fisher (damped empirical Fisher) or cg (conjugate gradients on "
            "the damped Hessian)"
        },
    )
    damping: float = field(
        default=0.1,
        metadata={"help": "fisher: multiple of the mean eigenvalue; cg: absolute λ in (H+λI)"},
    )
    adam_form: AdamForm = field(
        default=AdamForm.paper,
        metadata={
            "help": "preconditioner=adam: paper (LESS paper's: bias-corrected, eps outside the "
            "root) or less_code (LESS's collect_grad_reps.py)"
        },
    )
    cg_max_iter: int = field(
        default=100,
        metadata={"help": "preconditioner=cg: iterations at most"},
    )
    cg_tol: float = field(
        default=1e-6,
        metadata={"help": "preconditioner=cg: tolerance on the residual"},
    )
    debias: DebiasMode = field(
        default=DebiasMode.cosine,
        metadata={
            "help": "against the gradient norm: none, cosine, power (divide by the norm to the "
            "power alpha) or residual"
        },
    )
    alpha: float = field(default=1.0, metadata={"help": "exponent of ‖g‖ for debias=power"})
    perplexity_mode: PerplexityMode = field(
        default=PerplexityMode.mid,
        metadata={
            "help": "method=perplexity: low keeps the examples of lowest token-mean loss, mid those"
            " nearest the median"
        },
    )
    embedding_reduce: EmbeddingReduce = field(
        default=EmbeddingReduce.max,
        metadata={
            "help": "method=embedding: similarity to the nearest validation query (max) or the mean"
            " over them"
        },
    )
    refinement: Refinement = field(
        default=Refinement.top,
        metadata={
            "help": "scores to training data: top (keep the top fraction), drop_negative (drop "
            "negative scores) or weights (SFT weights, weight_mode)"
        },
    )
    fraction: float = field(default=0.5, metadata={"help": "share kept by refinement=top"})
    weight_mode: WeightMode = field(
        default=WeightMode.softmax,
        metadata={
            "help": "refinement=weights: softmax of z-scores at temperature, or linear in rank"
        },
    )
    temperature: float = field(default=1.0, metadata={"help": "softmax temperature on z-scores"})
    random_seed: int = field(default=0, metadata={"help": "seed of method=random"})

    def __post_init__(self) -> None:
        enums = {
            "method": ScoringMethod,
            "scheme": SignScheme,
            "loss_turns": LossTurns,
            "preconditioner": PreconditionerName,
            "adam_form": AdamForm,
            "debias": DebiasMode,
            "perplexity_mode": PerplexityMode,
            "embedding_reduce": EmbeddingReduce,
            "refinement": Refinement,
            "weight_mode": WeightMode,
        }
        for key, kind in enums.items():
            setattr(self, key, require_choice(f"method.scoring.{key}", kind, getattr(self, key)))
        for key in ("damping", "alpha"):
            require_non_negative(f"method.scoring.{key}", getattr(self, key))
        for key in ("cg_max_iter", "cg_tol", "temperature"):
            require_positive(f"method.scoring.{key}", getattr(self, key))
        if not 0 < self.fraction <= 1:
            raise ConfigError(f"method.scoring.fraction must be in (0, 1], got {self.fraction}")
        if self.method == ScoringMethod.less:
            self._check_less()

    def _check_less(self) -> None:
        """LESS (Xia et al. 2024) has one form: Adam-transformed gradients compared by cosine.
        Other values of the keys it would ignore are refused rather than dropped."""
        if self.preconditioner != PreconditionerName.adam:
            raise ConfigError(
                f"method.scoring.preconditioner={self.preconditioner.value} does not apply to "
                "method.scoring.method=less: LESS preconditions by the warm-up's Adam states "
                "and has no other preconditioner (adam_form picks the paper's or the code's "
                "form); write preconditioner=adam, or use drift_if for identity/fisher and cg_if "
                "for cg"
            )
        if self.debias != DebiasMode.cosine:
            raise ConfigError(
                f"method.scoring.debias={self.debias.value} does not apply to "
                "method.scoring.method=less: LESS scores by cosine similarity and has no other "
                "debiasing; write debias=cosine, or use drift_if to choose the debiasing"
            )
