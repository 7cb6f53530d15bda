"""The user side of an episode: what the user says after each answer, and whether the episode
goes on (README, "Protocols").

The rollout driver (:func:`drift.rollout.driver.run_episodes`) asks one question after every
answer, :meth:`Environment.next_user_turn`, and the return of a finished episode,
:meth:`Environment.episode_return`; it has no other protocol logic. Every method (the shared
rollouts, GRPO's online episodes, evaluation, influence targets) builds its episodes through it,
so both protocols share one driver, one return and one loss:

- ``oracle``: after a wrong answer the user turn is ``task.feedback``; a correct answer (or the
  ``task.max_turns``-th) ends the episode.
- ``intrinsic``: every episode runs ``task.max_turns`` answers; after each but the last the user
  turn is ``env.instruction``, whatever the verifier said. The verifier only scores.

A prompt format that renders user turns differently (a per-turn text such as a ``Reward:`` line)
extends :meth:`Environment.next_user_turn`. Under both protocols here the text between answers is
one fixed message, which the trajectory keeps as ``Trajectory.feedback`` and
:meth:`drift.types.Trajectory.messages` replays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drift.config import EnvConfig, RewardConfig, TaskConfig
from drift.enums import Protocol
from drift.reward.returns import episode_return, turn_contributions
from drift.types import Turn


@dataclass(frozen=True)
class Environment:
    """One protocol with its message and episode length (:meth:`from_config` builds it).

    ``message`` is the user turn between answers: the feedback under ``oracle``, the revision
    instruction under ``intrinsic``. ``shaping_alpha`` shapes the intrinsic return.
    """

    protocol: Protocol
    message: str
    max_turns: int
    shaping_alpha: float = 0.0

    def __post_init__(self) -> None:
        if self.max_turns <= 0:
            raise ValueError(f"max_turns must be > 0, got {self.max_turns}")

    @classmethod
    def from_config(cls, task: TaskConfig, env: EnvConfig) -> Environment:
        """The run's environment: ``env.protocol`` with ``task.feedback`` (oracle) or
        ``env.instruction`` (intrinsic), at most ``task.max_turns`` answers."""
        protocol = Protocol(env.protocol)
        message = task.feedback if protocol == Protocol.ORACLE else env.instruction
        return cls(protocol, message, task.max_turns, env.shaping_alpha)

    @classmethod
    def oracle(cls, feedback: str, max_turns: int) -> Environment:
        """The oracle protocol with ``feedback`` after a wrong answer."""
        return cls(Protocol.ORACLE, feedback, max_turns)

    def next_user_turn(self, turns: Sequence[Turn]) -> str | None:
        """The user turn after the last of ``turns`` (the episode so far, at least one answer),
        or None when the episode ends there."""
        if len(turns) >= self.max_turns:
            return None
        if self.protocol == Protocol.ORACLE and turns[-1].correct:
            return None
        return self.message

    def turn_contributions(self, turns: list[Turn], reward: RewardConfig) -> list[float]:
        """Each turn's share of the episode's return under this protocol."""
        return turn_contributions(turns, reward, self.protocol, self.shaping_alpha)

    def episode_return(self, turns: list[Turn], reward: RewardConfig) -> float:
        """The return of the episode under this protocol
        (:func:`~drift.reward.returns.episode_return`)."""
        return episode_return(turns, reward, self.protocol, self.shaping_alpha)
