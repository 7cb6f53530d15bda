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
    """A multi-turn episode: the prompt, every assistant turn, the user turn between them.

    ``feedback`` is that user turn: the oracle's feedback, or the revision instruction under
    ``env.protocol=intrinsic`` (:mod:`drift.rollout.env`). A prompt format whose user turns
    vary (``drift_full``) keeps them in ``users`` (one per turn but the last); ``prefill`` is the
    text every assistant turn starts with that the model did not write (``turns[i].text``
    includes it; :mod:`drift.rollout.formats`).
    """

    prompt_id: str
    sample_id: int
    prompt: list[Message]
    turns: list[Turn]
    feedback: str
    target: str = ""
    ret: float = 0.0
    weight: float = 1.0
    influence: float | None = None  # on-policy influence score (method=drift_iw_if)
    users: list[str] | None = None
    prefill: str = ""

    @property
    def solved_turn(self) -> int | None:
        """1-based index of the first correct turn, or None if the episode was never solved."""
        for i, turn in enumerate(self.turns, start=1):
            if turn.correct:
                return i
        return None

    @property
    def final_correct(self) -> bool:
        """Whether the episode's last answer is correct: what the episode ends on. Under the
        oracle protocol the same as being solved (an episode stops at its first correct answer);
        under intrinsic an episode can be solved at turn 1 and end wrong."""
        return bool(self.turns) and self.turns[-1].correct

    def messages(self) -> list[Message]:
        """The whole conversation: prompt, then each answer, each but the last followed by its
        user turn (``users``, or ``feedback``)."""
        out = list(self.prompt)
        for i, turn in enumerate(self.turns):
            out.append({"role": "assistant", "content": turn.text})
            if i < len(self.turns) - 1:
                user = self.feedback if self.users is None else self.users[i]
                out.append({"role": "user", "content": user})
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, default in (("influence", None), ("users", None), ("prefill", "")):
            if data[key] == default:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        turns = [Turn(**t) for t in data["turns"]]
        return cls(**{**data, "turns": turns})


@dataclass
class TrainExample:
    """A conversation to fine-tune on, its loss weight, and which assistant turns carry loss
    (each from after ``prefill``, which every assistant turn then starts with)."""

    id: str
    messages: list[Message]
    weight: float = 1.0
    loss_turns: LossTurns = "final"
    prefill: str = ""  # the start of each assistant turn the model did not write: no loss
