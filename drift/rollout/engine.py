"""The generation protocol every rollout engine implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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


class Engine(Protocol):
    """Continues chat conversations: one assistant reply (text only) per conversation."""

    def generate(
        self, conversations: Sequence[list[Message]], params: SamplingParams
    ) -> list[str]: ...
