"""The embedded task: problem shape, disjoint splits, Bayes-optimal accuracy, warm-up chats."""

from __future__ import annotations

import numpy as np
import pytest

from drift.data.embedded import bayes_optimal_accuracy, format_answer, make_split, warmup_examples
from drift.types import Problem

FEEDBACK = "Incorrect. Please think again."


def _parse(content: str) -> tuple[list[str], str]:
    *cands, clue = content.split(" ")
    return cands, clue


def _matching(cands: list[str], clue: str) -> list[str]:
    return [c for c in cands if int(c) % 2 == (clue == "odd")]


def _prompts(problems: list[Problem]) -> set[str]:
    return {p.messages[0]["content"] for p in problems}


def test_problem_shape() -> None:
    problems = make_split("train", 300, seed=3, num_candidates=4)
    assert [p.id for p in problems[:2]] == ["train-000000", "train-000001"]
    assert len({p.id for p in problems}) == 300
    assert len(_prompts(problems)) == 300  # distinct prompts within a split
    for p in problems:
        assert p.messages == [{"role": "user", "content": p.messages[0]["content"]}]
        cands, clue = _parse(p.messages[0]["content"])
        assert cands == p.meta["candidates"] and clue == p.meta["clue"]
        assert len(set(cands)) == 4 and all(len(c) == 1 and c.isdigit() for c in cands)
        assert clue in ("odd", "even")
        assert p.answer in _matching(cands, clue)  # answer always fits the clue


def test_deterministic_per_seed() -> None:
    a = make_split("test", 50, seed=7, num_candidates=4)
    b = make_split("test", 50, seed=7, num_candidates=4)
    c = make_split("test", 50, seed=8, num_candidates=4)
    assert [(p.messages, p.answer) for p in a] == [(p.messages, p.answer) for p in b]
    assert _prompts(a) != _prompts(c)


def test_splits_never_share_a_prompt() -> None:
    for seed_a, seed_b in ((0, 0), (0, 1)):
        train = _prompts(make_split("train", 2000, seed_a, 4))
        val = _prompts(make_split("val", 300, seed_b, 4))
        test = _prompts(make_split("test", 1000, seed_b, 4))
        assert not train & val and not train & test and not val & test


def test_bayes_optimal_accuracy_near_half() -> None:
    problems = make_split("train", 3000, seed=0, num_candidates=4)
    m = np.array([len(_matching(*_parse(p.messages[0]["content"]))) for p in problems])
    acc = bayes_optimal_accuracy(problems, max_turns=5)
    assert acc["acc@1"] == pytest.approx(np.mean(1 / m))
    assert acc["acc@2"] == pytest.approx(np.mean(np.minimum(2, m) / m))
    assert 0.45 <= acc["acc@1"] <= 0.53  # docstring: 102.5/210 ≈ 0.488 in expectation
    assert acc["acc@2"] == pytest.approx(180 / 210, abs=0.03)
    assert acc["acc@3"] == pytest.approx(207.5 / 210, abs=0.01)
    assert acc["acc@4"] == acc["acc@5"] == 1.0


def test_answer_uniform_among_matching_candidates() -> None:
    problems = make_split("train", 3000, seed=1, num_candidates=4)
    first = [
        p.answer == _matching(*_parse(p.messages[0]["content"]))[0]
        for p in problems
        if len(_matching(*_parse(p.messages[0]["content"]))) == 2
    ]
    assert len(first) > 500
    assert np.mean(first) == pytest.approx(0.5, abs=0.06)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown split"):
        make_split("dev", 10, 0, 4)
    with pytest.raises(ValueError, match="num_candidates"):
        make_split("train", 10, 0, 11)
    with pytest.raises(ValueError, match="found only"):
        make_split("val", 5000, 0, 4)


def test_warmup_structure() -> None:
    examples = warmup_examples(
        2000, seed=0, num_candidates=4, feedback=FEEDBACK, multi_turn_fraction=0.5
    )
    assert len(examples) == 2000
    num_multi = 0
    for ex in examples:
        assert ex.loss_turns == "final" and ex.weight == 1.0
        msgs = ex.messages
        roles = [m["role"] for m in msgs]
        assert roles == ["user", "assistant"] * (len(msgs) // 2)
        cands, clue = _parse(msgs[0]["content"])
        right = _matching(cands, clue)
        assert all(m["content"] == FEEDBACK for m in msgs[2::2])
        answers = [m["content"] for m in msgs[1::2]]
        assert all(a == format_answer(a[8:-9]) for a in answers)
        digits = [a[8:-9] for a in answers]
        wrong, final = digits[:-1], digits[-1]
        assert final in right
        assert len(wrong) <= 3 and len(set(wrong)) == len(wrong)
        assert all(d in cands and d != final for d in wrong)
        # mistakes of the clue's parity come first
        fits = [d in right for d in wrong]
        assert fits == sorted(fits, reverse=True)
        assert all(fits) or len(right) - 1 < len(wrong)
        num_multi += bool(wrong)
    assert num_multi / 2000 == pytest.approx(0.5, abs=0.04)


def test_warmup_uses_train_prompts_only() -> None:
    examples = warmup_examples(
        3000, seed=5, num_candidates=4, feedback=FEEDBACK, multi_turn_fraction=0.0
    )
    assert all(len(ex.messages) == 2 for ex in examples)
    prompts = {ex.messages[0]["content"] for ex in examples}
    held_out = _prompts(make_split("val", 400, 0, 4)) | _prompts(make_split("test", 1500, 0, 4))
    assert not prompts & held_out


def test_warmup_all_multi_turn() -> None:
    examples = warmup_examples(
        300, seed=2, num_candidates=4, feedback=FEEDBACK, multi_turn_fraction=1.0
    )
    lengths = {len(ex.messages) for ex in examples}
    assert lengths == {4, 6, 8}  # 1, 2 or 3 wrong answers


def test_warmup_with_kept_answers_for_the_intrinsic_protocol() -> None:
    instruction = "Review your answer."
    base = warmup_examples(
        500, seed=3, num_candidates=4, feedback=instruction, multi_turn_fraction=0.6
    )
    mixed = warmup_examples(
        500,
        seed=3,
        num_candidates=4,
        feedback=instruction,
        multi_turn_fraction=0.6,
        keep_fraction=0.5,
    )
    kept = corrected = 0
    for before, ex in zip(base, mixed, strict=True):
        assert len(ex.messages) == len(before.messages)  # same prompts, same number of attempts
        assert ex.messages[0] == before.messages[0] and ex.messages[-1] == before.messages[-1]
        assert all(m["content"] == instruction for m in ex.messages[2::2])
        answers = [m["content"] for m in ex.messages[1::2]]
        if len(answers) == 1:
            continue
        if ex.messages == before.messages:  # wrong answers, then the right one
            corrected += 1
            assert answers[-1] not in answers[:-1]
        else:  # the right answer from the first attempt on, kept after each instruction
            kept += 1
            assert set(answers) == {answers[-1]}
    assert kept / (kept + corrected) == pytest.approx(0.5, abs=0.08)
