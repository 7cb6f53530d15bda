"""Plug-ins as a user writes them, named in configs by dotted paths (``user_plugins:...``;
``tests/`` is on ``sys.path`` under pytest), and objects that break each contract."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scripted_engine import ScriptedEngine

from drift.types import Message, Trajectory


def answers_so_far(conversation: list[Message]) -> int:
    return sum(m["role"] == "assistant" for m in conversation)


def counting_engine(rollout: object, model: object, policy: str) -> ScriptedEngine:
    """Answers ``1`` at turn 1, ``2`` at turn 2, ...: every episode is judged by the verifier."""
    return ScriptedEngine(lambda conv: f"<answer>{answers_so_far(conv) + 1}</answer>")


class CountingEngine(ScriptedEngine):
    """:func:`counting_engine` as a class: the constructor is the factory."""

    def __init__(self, rollout: object, model: object, policy: str) -> None:
        super().__init__(lambda conv: f"<answer>{answers_so_far(conv) + 1}</answer>")
        self.policy = policy


def second_answer_right(prediction: str | None, target: str) -> bool:
    """Right at turn 2 of :func:`counting_engine`'s episodes, whatever the problem."""
    return prediction == "2"


class SameLength:
    """A verifier class: its instance, made without arguments, is the verifier."""

    def __call__(self, prediction: str | None, target: str) -> bool:
        return prediction is not None and len(prediction) == len(target)


def by_sample(trajectories: Sequence[Trajectory], beta: float) -> np.ndarray:
    """A weighting: sample k of each prompt weighs k + 1."""
    return np.array([t.sample_id + 1.0 for t in trajectories])


def one_argument(prediction: str | None) -> bool:
    """Breaks the verifier contract: no target."""
    return prediction is not None


def wrong_length(trajectories: Sequence[Trajectory], beta: float) -> np.ndarray:
    """Breaks the weighting contract at its first call: one weight too few."""
    return np.ones(max(len(trajectories) - 1, 0))


class NeedsArguments:
    """Breaks the verifier contract: cannot be made without arguments."""

    def __init__(self, tolerance: float) -> None:
        self.tolerance = tolerance

    def __call__(self, prediction: str | None, target: str) -> bool:
        return prediction == target


class NoGenerate:
    """Breaks the engine contract: built from the configs, but has no ``generate``."""

    def __init__(self, rollout: object, model: object, policy: str) -> None:
        self.policy = policy


def builds_no_engine(rollout: object, model: object, policy: str) -> object:
    """Breaks the engine contract when called: what it returns cannot generate."""
    return object()


NOT_CALLABLE = 3
