"""The embedded verifiable task: pick the right digit among candidates from a parity clue.

A prompt shows ``num_candidates`` distinct digits and a clue, e.g. ``"5 3 2 4 odd"``; the answer
(``<answer>3</answer>``) is one of the candidates of that parity. Problems are drawn answer
first: candidates uniformly, the answer uniformly among them, the clue is the answer's parity.
So the clue always fits at least one candidate and, given the prompt, the answer is uniform
among the m candidates that fit it: no model can beat acc@1 = E[1/m]. A perfect model that
never repeats an answer ruled out by feedback reaches acc@k = E[min(k, m) / m]; with 4
candidates (5 odd and 5 even digits) that is exactly acc@1 = 102.5/210 ≈ 0.488,
acc@2 = 180/210 ≈ 0.857, acc@3 = 207.5/210 ≈ 0.988, acc@4 = 1
(see :func:`bayes_optimal_accuracy`).

Every prompt (candidates in order + clue) belongs to exactly one split by a fixed hash, so
"train", "val" and "test" never share a prompt whatever the seed.
"""

from __future__ import annotations

import numpy as np

from drift.data.splits import SPLITS, in_split
from drift.types import Message, Problem, TrainExample

_CLUES = ("even", "odd")
_MAX_DRAWS = 50


def format_answer(answer: str) -> str:
    """The assistant's answer text: ``<answer>3</answer>``."""
    return f"<answer>{answer}</answer>"


def _check(split: str, num_candidates: int) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if not 1 <= num_candidates <= 10:
        raise ValueError(f"num_candidates must be in 1..10 (distinct digits), got {num_candidates}")


def _prompt_codes(cands: np.ndarray, clue: np.ndarray) -> np.ndarray:
    """One integer per prompt [B] from candidates [B, k] (ordered) and clue [B] (1 = odd)."""
    powers = 10 ** np.arange(cands.shape[1], dtype=np.uint64)
    return (cands.astype(np.uint64) * powers).sum(axis=1) * np.uint64(2) + clue.astype(np.uint64)


def _sample(
    rng: np.random.Generator, n: int, num_candidates: int, split: str, distinct: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n`` problems of ``split``: candidates [n, k], answer index [n], clue [n] (1 = odd)."""
    empty = np.zeros(0, dtype=np.int64)
    parts = [(empty.reshape(0, num_candidates), empty, empty)]
    seen = np.zeros(0, dtype=np.uint64)
    have = 0
    for _ in range(_MAX_DRAWS):
        if have >= n:
            break
        size = max(4 * (n - have), 256)
        cands = np.argsort(rng.random((size, 10)), axis=1)[:, :num_candidates]
        answer = rng.integers(num_candidates, size=size)
        clue = cands[np.arange(size), answer] % 2
        codes = _prompt_codes(cands, clue)
        keep = in_split(codes, split)
        if distinct:
            first = np.zeros(size, dtype=bool)
            first[np.unique(codes, return_index=True)[1]] = True
            keep &= first & ~np.isin(codes, seen)
            seen = np.concatenate([seen, codes[keep]])
        parts.append((cands[keep], answer[keep], clue[keep]))
        have += int(keep.sum())
    if have < n:
        raise ValueError(
            f"asked for {n} distinct {split!r} prompts with {num_candidates} candidates, "
            f"found only {have}: ask for fewer or use more candidates"
        )
    cands, answer, clue = (np.concatenate(arrays)[:n] for arrays in zip(*parts, strict=True))
    return cands, answer, clue


def _problem(pid: str, cands: np.ndarray, answer: int, clue: int) -> Problem:
    digits = [str(d) for d in cands.tolist()]
    content = " ".join(digits) + " " + _CLUES[clue]
    return Problem(
        id=pid,
        messages=[{"role": "user", "content": content}],
        answer=digits[answer],
        meta={"candidates": digits, "clue": _CLUES[clue]},
    )


def make_split(split: str, n: int, seed: int, num_candidates: int) -> list[Problem]:
    """``n`` problems of ``split`` with distinct prompts; ids ``"<split>-000123"``.

    ``meta`` holds ``candidates`` (digits as strings, in prompt order) and ``clue``.
    """
    _check(split, num_candidates)
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    cands, answer, clue = _sample(rng, n, num_candidates, split, distinct=True)
    return [_problem(f"{split}-{i:06d}", cands[i], int(answer[i]), int(clue[i])) for i in range(n)]


def warmup_examples(
    n: int,
    seed: int,
    num_candidates: int,
    feedback: str,
    multi_turn_fraction: float,
    keep_fraction: float = 0.0,
) -> list[TrainExample]:
    """``n`` supervised conversations on train-split prompts (repeats allowed) for the warm-up.

    A ``multi_turn_fraction`` of them first show 1–3 wrong answers (at most num_candidates - 1),
    each followed by a ``feedback`` user turn, then the right answer. Wrong answers are distinct
    candidates other than the answer, those of the clue's parity first (the mistakes a model
    that knows the rule makes). Loss is on the final (right) answer only.

    ``keep_fraction`` (for a ``feedback`` that is a revision instruction, not a verdict: the
    intrinsic protocol) is the share of the multi-turn conversations whose earlier answers are
    all the right one, kept after each user turn, instead of wrong ones; with 0 the examples
    (and the random draws) are as without it.
    """
    _check("train", num_candidates)
    rng = np.random.default_rng([seed, 99])
    cands, answer, clue = _sample(rng, n, num_candidates, "train", distinct=False)
    rows = np.arange(n)
    multi = rng.random(n) < multi_turn_fraction
    num_wrong = np.where(multi, rng.integers(1, 4, size=n), 0).clip(max=num_candidates - 1)
    is_answer = np.zeros(cands.shape, dtype=bool)
    is_answer[rows, answer] = True
    keys = rng.random(cands.shape) + (cands % 2 != clue[:, None]) + 2 * is_answer
    wrong_order = np.take_along_axis(cands, np.argsort(keys, axis=1), axis=1)
    kept = rng.random(n) < keep_fraction if keep_fraction > 0 else np.zeros(n, dtype=bool)
    examples = []
    for i in range(n):
        problem = _problem(f"warmup-{i:06d}", cands[i], int(answer[i]), int(clue[i]))
        messages: list[Message] = list(problem.messages)
        earlier = wrong_order[i, : num_wrong[i]].tolist()
        if kept[i]:
            earlier = [problem.answer] * len(earlier)
        for digit in earlier:
            messages.append({"role": "assistant", "content": format_answer(str(digit))})
            messages.append({"role": "user", "content": feedback})
        messages.append({"role": "assistant", "content": format_answer(problem.answer)})
        examples.append(TrainExample(id=problem.id, messages=messages, loss_turns="final"))
    return examples


def bayes_optimal_accuracy(problems: list[Problem], max_turns: int) -> dict[str, float]:
    """Best achievable ``acc@k`` (k = 1..max_turns): mean of min(k, m) / m over problems.

    m is the number of candidates that fit the clue; reaching it needs a model that never
    repeats an answer that feedback ruled out.
    """
    parity = {"even": 0, "odd": 1}
    matching = np.array(
        [sum(int(c) % 2 == parity[p.meta["clue"]] for c in p.meta["candidates"]) for p in problems],
        dtype=float,
    )
    return {
        f"acc@{k}": float(np.mean(np.minimum(k, matching) / matching))
        for k in range(1, max_turns + 1)
    }
