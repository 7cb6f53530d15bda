"""The ``env`` group: the user side of a multi-turn episode (its protocol)."""

from __future__ import annotations

from dataclasses import dataclass, field

from drift.enums import Protocol
from drift.errors import ConfigError, require_non_negative

DEFAULT_INSTRUCTION = (
    "There may be an error in your answer. Review it, correct it if needed, and end with "
    "your final answer."
)


@dataclass
class EnvConfig:
    """The user side of a multi-turn episode (README, "Protocols"; docs/metrics.md).

    ``protocol``: ``oracle`` says ``task.feedback`` after a wrong answer and ends the episode at
    the first correct one (or after ``task.max_turns`` answers); ``intrinsic`` runs every
    episode for ``task.max_turns`` answers, each but the last followed by ``instruction``, so
    the verifier only scores and is never shown to the model. Under ``intrinsic`` the return is
    the last answer's correctness plus ``shaping_alpha`` * (r_T - r_1), SCoRe's shaped bonus
    (:func:`drift.reward.returns.turn_contributions`).
    """

    protocol: Protocol = field(
        default=Protocol.oracle,
        metadata={
            "help": "oracle: task.feedback after a wrong answer, the episode ends at the first "
            "right one; intrinsic: task.max_turns answers, each but the last followed by "
            "env.instruction, the verdict never shown"
        },
    )
    instruction: str = field(
        default=DEFAULT_INSTRUCTION,
        metadata={
            "help": "what the user says after every answer but the last (env.protocol=intrinsic)"
        },
    )
    shaping_alpha: float = field(
        default=0.0,
        metadata={
            "help": "intrinsic protocol: SCoRe's shaped bonus shaping_alpha * (r_T - r_1) on the "
            "return"
        },
    )

    def __post_init__(self) -> None:
        require_non_negative("env.shaping_alpha", self.shaping_alpha)
        if self.protocol == Protocol.intrinsic and not self.instruction.strip():
            raise ConfigError("env.instruction must not be empty when env.protocol=intrinsic")
