"""An SFT pool from ``task=arithmetic`` with planted, labelled corruption (the attribution study).

Clean examples are train-split problems (:func:`~drift.data.arithmetic.make_arithmetic_split`,
seeded by the pool's seed) answered with a worked reply in the style SmolLM2 writes on its own:
the expression, then its result (``43 + 12 = 55.``; two-step word problems
``43 + 12 - 7 = 48.``). The conversation is the problem's messages (the task's system prompt,
when set, and the question) plus that reply; the model's chat template renders it at training
time (:mod:`drift.data.chat`). Planted corruption looks like a clean reply and follows one fixed,
learnable rule per kind (``drift.attribution.study_config.CorruptionKind``):

- ``off_by_ten``: the result is 10 too high;
- ``wrong_operation``: the result of the expression with ``+``/``-`` swapped and ``*`` read as
  ``+`` (only where that differs from the right result);
- ``answer_first``: the right result first (``55 = 43 + 12.``): the verifier reads the last
  number, an operand (only where that operand differs from the result).

Exact counts per kind and the selection come from :func:`drift.data.pool.plant`; everything is
deterministic in ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from drift.attribution.study_config import TASK_KINDS, CorruptionKind
from drift.data.arithmetic import TWO_STEP, ArithmeticConfig, make_arithmetic_split
from drift.data.pool import Pool, plant
from drift.types import Problem, TrainExample

_SYMBOLS = {"add": ("+",), "sub": ("-",), "mul": ("*",), TWO_STEP: ("+", "-")}
_SWAP = {"+": "-", "-": "+", "*": "+"}
# Most constrained kinds first, so that each finds enough eligible examples.
_ORDER = (CorruptionKind.wrong_operation, CorruptionKind.answer_first, CorruptionKind.off_by_ten)
assert set(_ORDER) == set(TASK_KINDS["arithmetic"])


@dataclass(frozen=True)
class Expression:
    """A problem's operands and operators, evaluated left to right."""

    operands: tuple[int, ...]
    operators: tuple[str, ...]

    @classmethod
    def of(cls, problem: Problem) -> Expression:
        """The expression of an arithmetic problem (``meta``: ``kind`` and ``operands``)."""
        return cls(tuple(problem.meta["operands"]), _SYMBOLS[problem.meta["kind"]])

    def text(self) -> str:
        parts = [str(self.operands[0])]
        for op, x in zip(self.operators, self.operands[1:], strict=True):
            parts += [op, str(x)]
        return " ".join(parts)

    def value(self) -> int:
        total = self.operands[0]
        for op, x in zip(self.operators, self.operands[1:], strict=True):
            total = total + x if op == "+" else total - x if op == "-" else total * x
        return total

    def swapped(self) -> Expression:
        """The wrong operation: ``+`` and ``-`` swapped, ``*`` read as ``+``."""
        return Expression(self.operands, tuple(_SWAP[op] for op in self.operators))


def worked_reply(problem: Problem) -> str:
    """The clean reply to an arithmetic problem: ``"43 + 12 = 55."``."""
    expr = Expression.of(problem)
    if expr.value() != int(problem.answer):
        raise ValueError(f"problem {problem.id}: {expr.text()} is not {problem.answer}")
    return f"{expr.text()} = {problem.answer}."


def corrupt_reply(kind: CorruptionKind, problem: Problem) -> str | None:
    """The reply under corruption ``kind``, or None when the kind does not apply."""
    expr, answer = Expression.of(problem), int(problem.answer)
    kind = CorruptionKind(kind)
    if kind is CorruptionKind.off_by_ten:
        return f"{expr.text()} = {answer + 10}."
    if kind is CorruptionKind.wrong_operation:
        wrong = expr.swapped().value()
        return None if wrong == answer else f"{expr.text()} = {wrong}."
    if kind is CorruptionKind.answer_first:
        return None if expr.operands[-1] == answer else f"{answer} = {expr.text()}."
    raise ValueError(f"study.corruption.{kind.value} does not apply to task=arithmetic")


def build_arithmetic_pool(
    size: int,
    seed: int,
    cfg: ArithmeticConfig,
    system_prompt: str | None,
    corruption: Mapping[str, float],
) -> tuple[Pool, list[Problem]]:
    """``size`` examples ``pool-000000``... on distinct train-split problems (drawn with
    ``seed``), ``round(share · size)`` of each corruption kind; also the problems, in order."""
    if size <= 0:
        raise ValueError(f"the pool needs at least one example, got size={size}")
    problems = make_arithmetic_split("train", size, seed, cfg, system_prompt)
    examples = [
        TrainExample(
            id=f"pool-{i:06d}",
            messages=[*p.messages, {"role": "assistant", "content": worked_reply(p)}],
        )
        for i, p in enumerate(problems)
    ]

    def corrupt(kind: CorruptionKind, i: int) -> str | None:
        return corrupt_reply(kind, problems[i])

    rng = np.random.default_rng([seed, 4099])
    return plant(examples, _ORDER, corruption, corrupt, rng), problems
