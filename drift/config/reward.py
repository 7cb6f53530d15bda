"""The ``reward`` group: the verifier and the shape of the return."""

from __future__ import annotations

from dataclasses import dataclass, field

from drift.enums import VerifierName
from drift.errors import ConfigError, require_non_negative
from drift.reward.verifiers import build_verifier


@dataclass
class RewardConfig:
    """Verifier and the shape of the return: R = sum_t gamma^(t-1) r_t + penalties."""

    verifier: str = field(
        default=VerifierName.exact.value,
        metadata={
            "help": "exact, math_verify, or a dotted path to your verifier (README, Plug-ins)"
        },
    )
    gamma: float = field(
        default=0.9,
        metadata={
            "help": "discount of a later turn's correctness: R = sum_t gamma^(t-1) r_t - penalties;"
            " in (0, 1]"
        },
    )
    format_penalty: float = field(
        default=0.1,
        metadata={"help": "subtracted from the return per malformed turn"},
    )
    repetition_penalty: float = field(
        default=0.5,
        metadata={"help": "subtracted from the return times (1 - unique answers / answers)"},
    )
    score_malformed: bool = field(
        default=False,
        metadata={
            "help": "verify the answer of a malformed turn (correct if the verifier accepts it) "
            "and count it for the repetition term; by default a malformed turn is never correct "
            "and only well-formed answers count, as the DRIFT authors define them"
        },
    )

    def __post_init__(self) -> None:
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"reward.gamma must be in (0, 1], got {self.gamma}")
        build_verifier(self.verifier)  # a dotted path is imported and checked here
        require_non_negative("reward.format_penalty", self.format_penalty)
        require_non_negative("reward.repetition_penalty", self.repetition_penalty)
