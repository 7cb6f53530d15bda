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

The environment also carries the prompt format (:class:`~drift.rollout.formats.Renderer`): the
conversation an episode opens with, the prefill of each reply, how the user turn reads and how a
reply is read. Under ``plain`` the text between answers is one fixed message, which the
trajectory keeps as ``Trajectory.feedback`` and :meth:`drift.types.Trajectory.messages`
replays; a format whose user turns vary (``drift_full``'s turn blocks) keeps them in
``Trajectory.users``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from drift.config import EnvConfig, PromptConfig, RewardConfig, TaskConfig
from drift.enums import AnswerFormat, PromptFormat, Protocol
from drift.reward.returns import episode_return, turn_contributions
from drift.rollout.formats import Renderer
from drift.types import Message, Problem, Turn


@dataclass(frozen=True)
class Environment:
    """One protocol with its message and episode length (:meth:`from_config` builds it).

    ``message`` is the user turn between answers: the feedback under ``oracle``, the revision
    instruction under ``intrinsic``. ``shaping_alpha`` shapes the intrinsic return.
    ``renderer`` is the prompt format (``plain`` by default).
    """

    protocol: Protocol
    message: str
    max_turns: int
    shaping_alpha: float = 0.0
    renderer: Renderer = field(default_factory=Renderer)

    def __post_init__(self) -> None:
        if self.max_turns <= 0:
            raise ValueError(f"max_turns must be > 0, got {self.max_turns}")
        if self.protocol == Protocol.intrinsic and self.renderer.format == PromptFormat.drift_full:
            raise ValueError("drift_full's 'Reward:' line would show the verdict under intrinsic")

    @classmethod
    def from_config(
        cls,
        task: TaskConfig,
        env: EnvConfig,
        prompt_format: PromptFormat = PromptFormat.plain,
        prompt: PromptConfig | None = None,
    ) -> Environment:
        """The run's environment: ``env.protocol`` with ``task.feedback`` (oracle) or
        ``env.instruction`` (intrinsic), at most ``task.max_turns`` answers, in
        ``prompt_format`` (``prompt``: the DRIFT formats' settings)."""
        protocol = Protocol(env.protocol)
        message = task.feedback if protocol == Protocol.oracle else env.instruction
        renderer = Renderer(PromptFormat(prompt_format), prompt or PromptConfig())
        return cls(protocol, message, task.max_turns, env.shaping_alpha, renderer)

    def initial_messages(self, problem: Problem) -> list[Message]:
        """The conversation an episode of ``problem`` opens with, in this prompt format."""
        return self.renderer.initial_messages(problem, self.max_turns)

    @property
    def prefill(self) -> str:
        """The text every assistant turn starts with, written for the model ("" for none)."""
        return self.renderer.prefill

    def read(self, text: str, answer_format: AnswerFormat) -> tuple[str | None, bool]:
        """(answer or None, well formed) of an assistant turn (prefill included)."""
        return self.renderer.read(text, answer_format)

    @classmethod
    def oracle(cls, feedback: str, max_turns: int) -> Environment:
        """The oracle protocol with ``feedback`` after a wrong answer."""
        return cls(Protocol.oracle, feedback, max_turns)

    def next_user_turn(self, turns: Sequence[Turn]) -> str | None:
        """The user turn after the last of ``turns`` (the episode so far, at least one answer),
        or None when the episode ends there."""
        if len(turns) >= self.max_turns:
            return None
        if self.protocol == Protocol.oracle and turns[-1].correct:
            return None
        return self.renderer.user_turn(self.message, turns, self.max_turns)

    def turn_contributions(self, turns: list[Turn], reward: RewardConfig) -> list[float]:
        """Each turn's share of the episode's return under this protocol."""
        return turn_contributions(turns, reward, self.protocol, self.shaping_alpha)

    def episode_return(self, turns: list[Turn], reward: RewardConfig) -> float:
        """The return of the episode under this protocol
        (:func:`~drift.reward.returns.episode_return`)."""
        return episode_return(turns, reward, self.protocol, self.shaping_alpha)
