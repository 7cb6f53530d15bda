import pytest

from drift.config import ConfigError, TaskConfig
from drift.data.arithmetic import ArithmeticConfig, make_arithmetic_split
from drift.data.sources import load_problems
from drift.enums import ArithmeticOp, TaskSource


def _value(problem) -> int:
    a, b, *rest = problem.meta["operands"]
    kind = problem.meta["kind"]
    return {"add": a + b, "sub": a - b, "mul": a * b}.get(kind, a + b - (rest[0] if rest else 0))


def test_answers_match_operands_and_text() -> None:
    cfg = ArithmeticConfig(two_step_fraction=0.3)
    problems = make_arithmetic_split("train", 300, seed=1, cfg=cfg)
    kinds = {p.meta["kind"] for p in problems}
    assert kinds == {"add", "sub", "mul", "two_step"}
    for p in problems:
        assert p.answer == str(_value(p))
        text = p.messages[-1]["content"]
        assert all(str(x) in text for x in p.meta["operands"])
        if p.meta["kind"] == "mul":
            assert 2 <= p.meta["operands"][1] <= cfg.max_multiplier
        if p.meta["kind"] == "two_step":
            assert int(p.answer) > 0
    templates = {p.messages[-1]["content"].split(" ")[0] for p in problems}
    assert len(templates) >= 3  # several phrasings


def test_splits_are_disjoint_by_problem_and_deterministic() -> None:
    cfg = ArithmeticConfig(operations=[ArithmeticOp.add], max_operand=60)
    splits = {s: make_arithmetic_split(s, 150, seed=3, cfg=cfg) for s in ("train", "val", "test")}
    keys = {s: {(p.meta["kind"], *p.meta["operands"]) for p in ps} for s, ps in splits.items()}
    assert all(len(k) == 150 for k in keys.values())  # distinct within a split
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"]
    assert not keys["val"] & keys["test"]
    # another seed draws other problems, but never across the split boundary
    other = {
        (p.meta["kind"], *p.meta["operands"]) for p in make_arithmetic_split("test", 150, 4, cfg)
    }
    assert not other & keys["train"]
    again = make_arithmetic_split("test", 150, seed=3, cfg=cfg)
    assert [p.messages for p in again] == [p.messages for p in splits["test"]]


def test_system_prompt_and_loader() -> None:
    task = TaskConfig(name=TaskSource.arithmetic, num_test=5, system_prompt="Be brief.")
    problems = load_problems(task, "test")
    assert len(problems) == 5
    assert problems[0].messages[0] == {"role": "system", "content": "Be brief."}
    assert (
        load_problems(TaskConfig(name=TaskSource.arithmetic, num_test=5), "test")[0].messages[0][
            "role"
        ]
        == "user"
    )


def test_too_many_problems_is_a_clear_error() -> None:
    cfg = ArithmeticConfig(operations=[ArithmeticOp.add], min_operand=1, max_operand=3)
    with pytest.raises(ValueError, match="found only"):
        make_arithmetic_split("test", 50, seed=0, cfg=cfg)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"max_operand": 5, "min_operand": 10}, "max_operand"),
        ({"max_multiplier": 1}, "max_multiplier"),
        ({"two_step_fraction": 1.5}, "two_step_fraction"),
        ({"templates": ["no placeholder"]}, "templates"),
        ({"operations": []}, "operations"),
    ],
)
def test_bad_settings_name_the_key(overrides, key) -> None:
    with pytest.raises(ConfigError, match=key):
        ArithmeticConfig(**overrides)
