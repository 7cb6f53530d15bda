"""A fake engine for tests: replies come from a Python function; every call is recorded."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from drift.rollout.engine import SamplingParams
from drift.types import Message


class ScriptedEngine:
    """``generate`` answers each conversation with ``fn(conversation)``.

    ``calls`` keeps, per ``generate`` call, the conversations (copied) and the params.
    """

    def __init__(self, fn: Callable[[list[Message]], str]) -> None:
        self.fn = fn
        self.calls: list[tuple[list[list[Message]], SamplingParams]] = []

    def generate(self, conversations: Sequence[list[Message]], params: SamplingParams) -> list[str]:
        copies = [[dict(m) for m in conv] for conv in conversations]
        self.calls.append((copies, params))
        return [self.fn(conv) for conv in copies]
