"""Seeded natural-language arithmetic for real chat models (``task=arithmetic``).

Single-step problems ("What is 43 - 75? Reply with just the number.": two-digit addition and
subtraction, two-digit times one-digit multiplication) and two-step word problems ("Mia has 43
stickers. She gets 12 more and then gives away 7. ..."), the kinds and sizes set by
``task.arithmetic``. Each problem is phrased with one of several templates, chosen at random:
a small model's accuracy depends on the wording, so one phrasing would measure one prompt.

Answers are integers, read from the model's free text as its last number
(``task.answer_format: last_number``). A problem's split is fixed by a hash of its kind and
operands (:mod:`drift.data.splits`), so train, val and test never share a problem, whatever the
phrasing, seed or sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drift.data.splits import SPLITS, in_split
from drift.enums import ArithmeticOp
from drift.errors import ConfigError, require_positive
from drift.types import Problem

DEFAULT_TEMPLATES = [
    "What is {expr}? Reply with just the number.",
    "Calculate {expr}. Give only the final number.",
    "{expr} = ? Answer with a single number.",
]
WORD_TEMPLATES = [
    "{name} has {a} {item}. {pronoun} gets {b} more and then gives away {c}. How many {item} "
    "does {name} have now? Reply with just the number.",
    "A box holds {a} {item}. Someone adds {b} {item} and then takes out {c}. How many {item} "
    "are in the box now? Reply with just the number.",
]
_NAMES = [("Mia", "She"), ("Sam", "He"), ("Ana", "She"), ("Leo", "He")]
_ITEMS = ["stickers", "apples", "marbles", "coins", "books"]
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*"}
TWO_STEP = "two_step"
_KINDS = ("add", "sub", "mul", TWO_STEP)
_MAX_DRAWS = 50


@dataclass
class ArithmeticConfig:
    """Which problems ``task=arithmetic`` draws and how they are phrased.

    Operands of addition, subtraction and the two-step problems lie in
    [``min_operand``, ``max_operand``]; multiplication is such an operand times a multiplier in
    [2, ``max_multiplier``]. ``two_step_fraction`` of the problems are two-step word problems
    (a + b - c, never negative); the rest spread evenly over ``operations``. ``templates`` phrase
    single-step problems (``{expr}`` is replaced by, say, ``43 - 75``).
    """

    operations: list[ArithmeticOp] = field(
        default_factory=lambda: [ArithmeticOp.add, ArithmeticOp.sub, ArithmeticOp.mul],
        metadata={"help": "single-step operations, spread evenly: add, sub, mul"},
    )
    min_operand: int = field(
        default=10,
        metadata={"help": "smallest operand"},
    )
    max_operand: int = field(
        default=99,
        metadata={"help": "largest operand (<= 999)"},
    )
    max_multiplier: int = field(
        default=9,
        metadata={"help": "multiplication: an operand times a multiplier in [2, max_multiplier]"},
    )
    two_step_fraction: float = field(
        default=0.0,
        metadata={"help": "share of two-step word problems (a + b - c)"},
    )
    templates: list[str] = field(
        default_factory=lambda: list(DEFAULT_TEMPLATES),
        metadata={"help": "phrasings of single-step problems ({expr} becomes, say, 43 - 75)"},
    )

    def __post_init__(self) -> None:
        require_positive("task.arithmetic.min_operand", self.min_operand)
        if self.max_operand < self.min_operand or self.max_operand > 999:
            raise ConfigError(
                f"task.arithmetic.max_operand must be in [min_operand, 999], got {self.max_operand}"
            )
        if not 2 <= self.max_multiplier <= 999:
            raise ConfigError(
                f"task.arithmetic.max_multiplier must be in [2, 999], got {self.max_multiplier}"
            )
        if not 0 <= self.two_step_fraction <= 1:
            raise ConfigError("task.arithmetic.two_step_fraction must be in [0, 1]")
        if not self.operations and self.two_step_fraction < 1:
            raise ConfigError("task.arithmetic.operations is empty: set two_step_fraction=1")
        if not self.templates or any("{expr}" not in t for t in self.templates):
            raise ConfigError("task.arithmetic.templates: every template must contain {expr}")


@dataclass
class _Draws:
    """Problems as arrays [n]: kind index into ``_KINDS`` and operands a, b, c (c = 0 unused)."""

    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray

    def codes(self) -> np.ndarray:
        """One integer per problem [n] from its kind and operands (phrasing excluded)."""
        ops = (self.a * 1000 + self.b) * 1000 + self.c
        return (ops * len(_KINDS) + self.kind).astype(np.uint64)

    def answers(self) -> np.ndarray:
        add, sub, mul = (self.kind == _KINDS.index(k) for k in _KINDS[:3])
        return np.select(
            [add, sub, mul],
            [self.a + self.b, self.a - self.b, self.a * self.b],
            default=self.a + self.b - self.c,
        )


def _draw(rng: np.random.Generator, size: int, cfg: ArithmeticConfig) -> _Draws:
    lo, hi = cfg.min_operand, cfg.max_operand + 1
    single = [_KINDS.index(ArithmeticOp(op).value) for op in cfg.operations]
    two_step = rng.random(size) < cfg.two_step_fraction
    kind = rng.choice(single, size=size) if single else np.full(size, _KINDS.index(TWO_STEP))
    kind = np.where(two_step, _KINDS.index(TWO_STEP), kind)
    a = rng.integers(lo, hi, size=size)
    b = np.where(
        kind == _KINDS.index("mul"),
        rng.integers(2, cfg.max_multiplier + 1, size=size),
        rng.integers(lo, hi, size=size),
    )
    # two-step: take away 1 <= c < a + b, so the answer is positive
    c = np.where(kind == _KINDS.index(TWO_STEP), rng.integers(1, a + b), 0)
    return _Draws(kind, a, b, c)


def _sample(rng: np.random.Generator, n: int, split: str, cfg: ArithmeticConfig) -> _Draws:
    """``n`` distinct problems of ``split``."""
    parts: list[_Draws] = []
    seen = np.zeros(0, dtype=np.uint64)
    for _ in range(_MAX_DRAWS):
        if len(seen) >= n:
            break
        draws = _draw(rng, max(4 * (n - len(seen)), 256), cfg)
        codes = draws.codes()
        first = np.zeros(len(codes), dtype=bool)
        first[np.unique(codes, return_index=True)[1]] = True
        keep = in_split(codes, split) & first & ~np.isin(codes, seen)
        seen = np.concatenate([seen, codes[keep]])
        parts.append(_Draws(draws.kind[keep], draws.a[keep], draws.b[keep], draws.c[keep]))
    if len(seen) < n:
        raise ValueError(
            f"asked for {n} distinct {split!r} arithmetic problems, found only {len(seen)}: "
            "ask for fewer or widen task.arithmetic's operand ranges"
        )
    fields = ("kind", "a", "b", "c")
    return _Draws(*(np.concatenate([getattr(p, f) for p in parts])[:n] for f in fields))


def _text(kind: str, a: int, b: int, c: int, pick: int, cfg: ArithmeticConfig) -> str:
    if kind == TWO_STEP:
        name, pronoun = _NAMES[pick % len(_NAMES)]
        template = WORD_TEMPLATES[pick % len(WORD_TEMPLATES)]
        item = _ITEMS[(pick // len(_NAMES)) % len(_ITEMS)]
        return template.format(name=name, pronoun=pronoun, item=item, a=a, b=b, c=c)
    expr = f"{a} {_SYMBOLS[kind]} {b}"
    return cfg.templates[pick % len(cfg.templates)].format(expr=expr)


def make_arithmetic_split(
    split: str, n: int, seed: int, cfg: ArithmeticConfig, system_prompt: str | None = None
) -> list[Problem]:
    """``n`` distinct problems of ``split`` (ids ``"<split>-000123"``), deterministic in ``seed``.

    ``meta`` holds ``kind`` (add, sub, mul, two_step) and ``operands``. With ``system_prompt``
    each prompt starts with it; without, the model's chat template adds its own default, if any.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    rng = np.random.default_rng([seed, SPLITS.index(split), 31])
    draws = _sample(rng, n, split, cfg)
    answers = draws.answers()
    picks = rng.integers(0, 1 << 30, size=n)
    problems = []
    for i in range(n):
        kind = _KINDS[int(draws.kind[i])]
        a, b, c = int(draws.a[i]), int(draws.b[i]), int(draws.c[i])
        operands = [a, b, c] if kind == TWO_STEP else [a, b]
        text = _text(kind, a, b, c, int(picks[i]), cfg)
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": text})
        problems.append(
            Problem(
                id=f"{split}-{i:06d}",
                messages=messages,
                answer=str(int(answers[i])),
                meta={"kind": kind, "operands": operands},
            )
        )
    return problems
