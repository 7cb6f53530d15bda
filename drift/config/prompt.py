"""The ``prompt`` keys: the DRIFT authors' prompt protocol."""

from __future__ import annotations

from dataclasses import dataclass, field

from drift.errors import ConfigError, require_positive

DRIFT_SYSTEM = "You're a helpful assistant. "
DRIFT_ANSWER_INSTRUCTION = (
    "You are solving Math problems. Only give the final answer between <answer> and </answer>."
)


@dataclass
class PromptConfig:
    """The DRIFT authors' prompt protocol, used by ``prompt_format`` ``drift_full`` and
    ``drift_simple`` (:mod:`drift.rollout.formats`; README, "Prompt protocol").

    ``system`` and ``answer_instruction`` open every conversation; ``think`` asks for
    ``<think> … </think> <answer> … </answer>`` and prefills the reply with ``<think>`` (else
    ``<answer> … </answer>`` and ``<answer>``); ``max_words`` is the length line's number (the
    authors' ``instruction_max_tokens``); a turn's answer is the first part of its ``<answer>``
    text split on ``action_sep`` (one action per turn, as the authors' run sets it).
    """

    system: str = field(
        default=DRIFT_SYSTEM,
        metadata={"help": "the system message that opens every conversation"},
    )
    answer_instruction: str = field(
        default=DRIFT_ANSWER_INSTRUCTION,
        metadata={"help": "the instruction after it: where the answer goes"},
    )
    think: bool = field(
        default=True,
        metadata={
            "help": "ask for <think> ... </think> <answer> ... </answer> and prefill the reply with"
            " <think> (false: <answer> ... </answer>, prefilled with <answer>)"
        },
    )
    max_words: int = field(
        default=400,
        metadata={
            "help": "the length line's number, 'Max response length: N words (tokens).' "
            "(drift_full's turn blocks; the authors' instruction_max_tokens)"
        },
    )
    action_sep: str = field(
        default="||",
        metadata={
            "help": "a turn's <answer> text is split on it; the first part is the turn's answer"
        },
    )

    def __post_init__(self) -> None:
        require_positive("prompt.max_words", self.max_words)
        if not self.action_sep:
            raise ConfigError("prompt.action_sep must not be empty")
