"""SFT pools with planted, labelled corruption (the attribution study).

:class:`Pool` (examples and their labels) and :func:`plant` (an exact number of examples per
corruption kind, disjoint, drawn uniformly among the examples the kind applies to) are shared by
every pool source; this module builds the embedded task's pool
(:mod:`drift.data.arithmetic_pool` builds ``task=arithmetic``'s).

The embedded clean pool is :func:`~drift.data.embedded.warmup_examples` (train-split prompts;
a share of conversations show 1-3 wrong answers, each followed by feedback, before the right
one). Then :func:`plant` corrupts an exact number of examples per kind
(``drift.attribution.study_config.CorruptionKind``):

- ``wrong_parity``: the final answer becomes the first candidate (in prompt order) whose parity
  contradicts the clue and that the conversation has not shown yet. A consistent rule the model
  can learn, so the loss of these examples is not trivially high.
- ``format``: the final answer is written ``answer: 3``: consistent, learnable, and unparseable
  by the verifier (a model that learns it loses accuracy).
- ``repeat``: a multi-turn example's final answer repeats the last answer that feedback already
  ruled out (the correction is broken).

Clean examples are not equally easy: when 3-4 candidates fit the clue the right answer has low
probability under any model, so clean-but-hard examples have high loss too (loss-based
selection can fail). Everything is deterministic in ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from drift.attribution.study_config import CorruptionKind
from drift.data.embedded import format_answer, warmup_examples
from drift.reward.extract import extract_answer
from drift.types import TrainExample

CLEAN = "clean"
# Most constrained kinds first, so that each finds enough eligible examples.
_ORDER = (CorruptionKind.repeat, CorruptionKind.wrong_parity, CorruptionKind.format)


@dataclass
class Pool:
    """Pool examples [N] and their labels [N]: ``"clean"`` or a :class:`CorruptionKind` value."""

    examples: list[TrainExample]
    kinds: list[str]

    def __post_init__(self) -> None:
        if len(self.examples) != len(self.kinds):
            raise ValueError(f"{len(self.examples)} examples but {len(self.kinds)} labels")

    @property
    def corrupted(self) -> np.ndarray:
        """Boolean mask [N]: True for planted corruption."""
        return np.array([k != CLEAN for k in self.kinds], dtype=bool)

    @property
    def ids(self) -> list[str]:
        return [ex.id for ex in self.examples]

    def counts(self) -> dict[str, int]:
        """Examples per label."""
        names, counts = np.unique(np.array(self.kinds, dtype=object), return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


@dataclass
class _Parsed:
    """What corruption needs to know about a clean example."""

    candidates: list[str]
    clue: str
    shown: list[str]  # answers of the earlier (wrong) assistant turns, in order


def _parse(example: TrainExample) -> _Parsed:
    words = example.messages[0]["content"].split()
    shown = [
        extract_answer(m["content"]) or ""
        for m in example.messages[:-1]
        if m["role"] == "assistant"
    ]
    return _Parsed(candidates=words[:-1], clue=words[-1], shown=shown)


def _wrong_parity_answer(p: _Parsed) -> str | None:
    parity = 1 if p.clue == "odd" else 0
    wrong = [c for c in p.candidates if int(c) % 2 != parity and c not in p.shown]
    return wrong[0] if wrong else None


def _corrupt_text(kind: CorruptionKind, p: _Parsed, answer: str) -> str | None:
    """The corrupted final assistant turn, or None when ``kind`` does not apply."""
    if kind is CorruptionKind.repeat:
        return format_answer(p.shown[-1]) if p.shown else None
    if kind is CorruptionKind.wrong_parity:
        wrong = _wrong_parity_answer(p)
        return None if wrong is None else format_answer(wrong)
    return f"answer: {answer}"


def plant(
    examples: Sequence[TrainExample],
    order: Sequence[CorruptionKind],
    corruption: Mapping[str, float],
    corrupt: Callable[[CorruptionKind, int], str | None],
    rng: np.random.Generator,
    hint: str = "",
) -> Pool:
    """Corrupt ``round(share · N)`` of ``examples`` per kind, disjointly, in ``order``.

    ``corrupt(kind, i)`` is the corrupted final assistant turn of example ``i``, or None when
    ``kind`` does not apply to it; each kind's examples are drawn uniformly (``rng``) among the
    still-clean examples it applies to. A kind with a positive share that is not in ``order``,
    or too few eligible examples, raises ValueError (``hint`` says how to get more).
    """
    size = len(examples)
    unknown = sorted(k for k, share in corruption.items() if share > 0 and k not in order)
    if unknown:
        names = ", ".join(k.value for k in order)
        raise ValueError(f"study.corruption.{unknown[0]} does not apply to this pool ({names})")
    out, kinds = list(examples), [CLEAN] * size
    for kind in order:
        want = int(np.floor(corruption.get(kind.value, 0.0) * size + 0.5))
        if want == 0:
            continue
        texts = [corrupt(kind, i) for i in range(size)]
        eligible = [i for i, t in enumerate(texts) if t is not None and kinds[i] == CLEAN]
        if len(eligible) < want:
            raise ValueError(
                f"study.corruption.{kind.value}: {want} examples asked for but only "
                f"{len(eligible)} of {size} are eligible; lower it{hint}"
            )
        for i in sorted(rng.choice(eligible, size=want, replace=False).tolist()):
            messages = [*out[i].messages[:-1], {"role": "assistant", "content": texts[i]}]
            out[i] = replace(out[i], messages=messages)
            kinds[i] = kind.value
    return Pool(out, kinds)


def build_pool(
    size: int,
    seed: int,
    num_candidates: int,
    feedback: str,
    multi_turn_fraction: float,
    corruption: Mapping[str, float],
) -> Pool:
    """``size`` embedded-task examples ``pool-000000``..., ``round(share · size)`` of each
    corruption kind."""
    if size <= 0:
        raise ValueError(f"the pool needs at least one example, got size={size}")
    clean = warmup_examples(size, seed, num_candidates, feedback, multi_turn_fraction)
    examples = [replace(ex, id=f"pool-{i:06d}") for i, ex in enumerate(clean)]
    parsed = [_parse(ex) for ex in examples]
    answers = [extract_answer(ex.messages[-1]["content"]) or "" for ex in examples]

    def corrupt(kind: CorruptionKind, i: int) -> str | None:
        return _corrupt_text(kind, parsed[i], answers[i])

    rng = np.random.default_rng([seed, 4099])
    hint = " (repeat needs multi-turn examples: raise study.multi_turn_fraction)"
    return plant(examples, _ORDER, corruption, corrupt, rng, hint)
