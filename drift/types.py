"""Records that flow between stages: problems, turns, trajectories, training examples."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

LossTurns = Literal["final", "all"]


@dataclass
class Problem:
    """A verifiable prompt: the chat messages before the first answer, and the ground truth."""

    id: str
    messages: list[Message]
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    """One assistant answer inside an episode, as generated and as judged by the verifier."""

    text: str
    answer: str | None
    correct: bool
    valid: bool
    reward: float = 0.0


@dataclass
class Trajectory:
    """A multi-turn episode: the prompt, every assistant turn, the feedback between them."""

    prompt_id: str
    sample_id: int
    prompt: list[Message]
    turns: list[Turn]
    feedback: str
    target: str = ""
    ret: float = 0.0
    weight: float = 1.0
    influence: float | None = None  # on-policy influence score (method=drift_iw_if)

    @property
    def solved_turn(self) -> int | None:
        """1-based index of the first correct turn, or None if the episode was never solved."""
        for i, turn in enumerate(self.turns, start=1):
            if turn.correct:
                return i
        return None

    def messages(self) -> list[Message]:
        """The whole conversation: prompt, then each answer followed by feedback if it was wrong."""
        out = list(self.prompt)
        for i, turn in enumerate(self.turns):
            out.append({"role": "assistant", "content": turn.text})
            if i < len(self.turns) - 1:
                out.append({"role": "user", "content": self.feedback})
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.influence is None:
            del data["influence"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        turns = [Turn(**t) for t in data["turns"]]
        return cls(**{**data, "turns": turns})


@dataclass
class TrainExample:
    """A conversation to fine-tune on, its loss weight, and which assistant turns carry loss."""

    id: str
    messages: list[Message]
    weight: float = 1.0
    loss_turns: LossTurns = "final"
