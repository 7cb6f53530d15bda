"""The generation protocol every rollout engine implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from drift.types import Message


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings for one ``generate`` call; ``temperature == 0`` means greedy."""

    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be > 0, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def continues(conversation: list[Message]) -> bool:
    """Whether ``conversation`` ends with an assistant message (a prefill) to continue, rather
    than asking for a new assistant turn."""
    return bool(conversation) and conversation[-1]["role"] == "assistant"


def render_prompts(tokenizer: Any, conversations: Sequence[list[Message]]) -> list[str]:
    """The prompt text of each conversation under the tokenizer's chat template: the
    generation prompt appended, or, for one that :func:`continues`, its final assistant message
    left open (``continue_final_message``: the text ends with that message's content)."""
    out: list[str] = [""] * len(conversations)
    for flag in (False, True):
        idx = [i for i, c in enumerate(conversations) if continues(c) == flag]
        if not idx:
            continue
        texts = tokenizer.apply_chat_template(
            [conversations[i] for i in idx],
            tokenize=False,
            add_generation_prompt=not flag,
            continue_final_message=flag,
        )
        for i, text in zip(idx, texts, strict=True):
            out[i] = text
    return out


class Engine(Protocol):
    """Continues chat conversations: one assistant reply (text only) per conversation. A
    conversation that ends with an assistant message (a prefill) is continued from it, and the
    reply is the text after it."""

    def generate(
        self, conversations: Sequence[list[Message]], params: SamplingParams
    ) -> list[str]: ...
