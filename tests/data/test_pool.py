"""The corrupted SFT pool: exact counts, exact labels, each kind's rule, determinism."""

import pytest

from drift.data.pool import CLEAN, build_pool
from drift.reward.extract import extract_answer, is_well_formed

FEEDBACK = "Incorrect. Please think again."
SHARES = {"wrong_parity": 0.2, "format": 0.1, "repeat": 0.1}


def _pool(size=400, seed=3, shares=SHARES, multi=0.4):
    return build_pool(size, seed, 4, FEEDBACK, multi, shares)


def _parity_ok(example, answer: str) -> bool:
    words = example.messages[0]["content"].split()
    parity = 1 if words[-1] == "odd" else 0
    return answer in words[:-1] and int(answer) % 2 == parity


def test_counts_are_exact_and_disjoint():
    pool = _pool()
    assert pool.counts() == {"clean": 240, "wrong_parity": 80, "format": 40, "repeat": 40}
    assert pool.corrupted.sum() == 160
    assert len(set(pool.ids)) == 400 and pool.ids[0] == "pool-000000"


def test_every_label_matches_its_rule():
    pool = _pool()
    for ex, kind in zip(pool.examples, pool.kinds, strict=True):
        final = ex.messages[-1]["content"]
        shown = [extract_answer(m["content"]) for m in ex.messages[:-1] if m["role"] == "assistant"]
        answer = extract_answer(final)
        if kind == CLEAN:
            assert is_well_formed(final) and _parity_ok(ex, answer) and answer not in shown
        elif kind == "wrong_parity":
            words = ex.messages[0]["content"].split()
            assert is_well_formed(final) and answer in words[:-1]
            assert not _parity_ok(ex, answer) and answer not in shown
        elif kind == "format":
            assert answer is None and final.startswith("answer: ")
            assert _parity_ok(ex, final.removeprefix("answer: "))
        else:
            assert kind == "repeat" and shown and answer == shown[-1]


def test_wrong_parity_follows_one_consistent_rule():
    pool = _pool()
    for ex, kind in zip(pool.examples, pool.kinds, strict=True):
        if kind != "wrong_parity":
            continue
        words = ex.messages[0]["content"].split()
        parity = 1 if words[-1] == "odd" else 0
        shown = {extract_answer(m["content"]) for m in ex.messages[:-1]}
        first = next(c for c in words[:-1] if int(c) % 2 != parity and c not in shown)
        assert extract_answer(ex.messages[-1]["content"]) == first


def test_pool_is_deterministic_in_its_seed():
    a, b, c = _pool(seed=3), _pool(seed=3), _pool(seed=4)
    assert [e.messages for e in a.examples] == [e.messages for e in b.examples]
    assert a.kinds == b.kinds
    assert [e.messages for e in a.examples] != [e.messages for e in c.examples]


def test_no_corruption_gives_a_clean_pool():
    pool = _pool(shares={})
    assert pool.counts() == {"clean": 400} and not pool.corrupted.any()


def test_too_many_repeats_for_the_multi_turn_share_is_an_error():
    with pytest.raises(ValueError, match=r"study\.corruption\.repeat"):
        _pool(shares={"repeat": 0.5}, multi=0.2)


def test_empty_pool_is_an_error():
    with pytest.raises(ValueError, match="at least one example"):
        _pool(size=0)
