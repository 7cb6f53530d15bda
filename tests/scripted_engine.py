"""A fake engine for unit tests: replies come from a Python function; every call is recorded.

Kept out of the package: a run cannot choose it (`rollout.engine` is hf or vllm)."""

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
