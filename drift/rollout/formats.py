"""Prompt formats: what the model sees of an episode and how its replies are read (README,
"Prompt protocol").

One renderer, three formats (``rollout.prompt_format``, ``eval.prompt_format``):

- ``plain`` (the default): the task's own messages, the user turn between answers is the
  environment's message as it is, replies are read in ``task.answer_format``.
- ``drift_full`` and ``drift_simple``: the DRIFT authors' protocol (``prompt.*``). The
  conversation opens with the system message ``prompt.system``; the first user turn holds the
  answer-tag instruction ``prompt.answer_instruction``, the problem and the format line (``Always
  output: <think> [Your thoughts] </think> <answer> [your answer] </answer> with no extra text.
  Strictly follow this format.``). ``drift_full`` puts the problem in a turn block (``Turn t:``,
  ``State:``, the actions left, the format line and ``Max response length: N words (tokens).``)
  and after a wrong answer sends ``Reward:`` with that answer's reward, then the next turn's
  block whose state is the environment's message; ``drift_simple`` states the problem once and
  after a wrong answer sends the environment's message alone. Every reply is prefilled with
  ``<think>`` (``<answer>`` with ``prompt.think=false``): the engine continues an assistant
  message holding the prefill, the stored assistant turn is prefill + reply, and the loss covers
  the reply only (:func:`drift.data.chat.encode_examples`). Replies are read by the authors'
  rule (:func:`drift.reward.extract.read_drift_answer`).

The text of each piece is rendered through the model's own chat template by the engines and
the training encoder; nothing here knows a template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from drift.config import PromptConfig
from drift.enums import AnswerFormat, PromptFormat
from drift.reward.extract import read_answer, read_drift_answer
from drift.types import Message, Problem, Turn


@dataclass(frozen=True)
class Renderer:
    """The messages of one prompt format (module doc); ``plain`` changes nothing."""

    format: PromptFormat = PromptFormat.plain
    prompt: PromptConfig = field(default_factory=PromptConfig)

    @property
    def drift(self) -> bool:
        return self.format != PromptFormat.plain

    @property
    def prefill(self) -> str:
        """The start of every assistant turn, written for the model ("" under ``plain``)."""
        if not self.drift:
            return ""
        return "<think>" if self.prompt.think else "<answer>"

    def _format_line(self) -> str:
        shape = (
            "<think> [Your thoughts] </think> <answer> [your answer] </answer>"
            if self.prompt.think
            else "<answer> [your answer] </answer>"
        )
        return f"Always output: {shape} with no extra text. Strictly follow this format."

    def _turn_block(self, turn: int, state: str, actions_left: int) -> str:
        return (
            f"Turn {turn}:\nState:\n{state}\nYou have {actions_left} actions left. "
            f"{self._format_line()} Max response length: {self.prompt.max_words} words (tokens).\n"
        )

    def initial_messages(self, problem: Problem, max_turns: int) -> list[Message]:
        """The conversation before the first answer: the task's messages under ``plain``, else
        the system message and the first user turn around the problem's question
        (``meta["question"]``, or the content of its last user message)."""
        if not self.drift:
            return [dict(m) for m in problem.messages]
        question = problem.meta.get("question")
        if question is None:
            question = next(m["content"] for m in reversed(problem.messages) if m["role"] == "user")
        instruction = self.prompt.answer_instruction
        if self.format == PromptFormat.drift_simple:
            user = f"{instruction}\n\nProblem:\n{question}\n\n{self._format_line()}"
        else:
            user = f"{instruction}\n{self._turn_block(1, question, max_turns)}"
        system = {"role": "system", "content": self.prompt.system}
        return [system, {"role": "user", "content": user}]

    def user_turn(self, message: str, turns: Sequence[Turn], max_turns: int) -> str:
        """The user turn after ``turns`` (the episode so far) when the environment says
        ``message``: ``message`` itself, or under ``drift_full`` the last reward and the next
        turn's block (actions left: ``max_turns`` less the well-formed answers so far, as the
        authors count them)."""
        if self.format != PromptFormat.drift_full:
            return message
        actions_left = max(max_turns - sum(t.valid for t in turns), 0)
        block = self._turn_block(len(turns) + 1, message, actions_left)
        return f"Reward:\n{float(turns[-1].reward)}\n{block}"

    def read(self, text: str, answer_format: AnswerFormat) -> tuple[str | None, bool]:
        """(answer or None, well formed) of a whole assistant turn (prefill included)."""
        if not self.drift:
            return read_answer(text, answer_format)
        return read_drift_answer(text, self.prompt.think, self.prompt.action_sep)
