"""The DRIFT authors' per-turn metrics and the suite's tables."""

import pytest

from drift.evaluation.drift_paper.report import (
    benchmark_metrics,
    benchmark_table,
    suite_markdown,
    summary_table,
)
from drift.types import Trajectory, Turn


def _episode(answers: list[str | None]) -> Trajectory:
    turns = [Turn(f"<answer>{a}</answer>", a, a == "3", a is not None) for a in answers]
    return Trajectory("p", 0, [{"role": "user", "content": "q"}], turns, "no", "3")


# oracle episodes: solved at 1, at 2, at 3, never (three wrong, one malformed)
EPISODES = [
    _episode(["3"]),
    _episode(["1", "3"]),
    _episode(["1", "2", "3"]),
    _episode(["1", None, "2"]),
]


def test_per_turn_metrics_as_the_authors_count_them() -> None:
    m = benchmark_metrics(EPISODES, max_turns=3)
    assert m["n"] == 4
    assert [m[f"attempts@t{t}"] for t in (1, 2, 3)] == [4, 3, 2]
    assert [m[f"correct@t{t}"] for t in (1, 2, 3)] == [1, 1, 1]
    assert [m[f"turn_acc@t{t}"] for t in (1, 2, 3)] == pytest.approx([1 / 4, 1 / 3, 1 / 2])
    assert [m[f"acc@{t}"] for t in (1, 2, 3)] == [0.25, 0.5, 0.75]  # cumulative
    # under the oracle protocol the per-turn accuracy at t >= 2 is the correction rate at t
    assert m["correction_rate@t2"] == m["turn_acc@t2"]
    assert m["correction_rate@t3"] == m["turn_acc@t3"]
    assert m["correction_rate"] == pytest.approx(2 / 5)  # pooled: 5 wrong turns going on, 2 fixed


def test_tables() -> None:
    m = benchmark_metrics(EPISODES, max_turns=3)
    table = benchmark_table("MATH-500", m, 3)
    assert table.startswith("**MATH-500** (4 problems)")
    assert "| 1 | 4 | 1 | 0.250 | 0.250 | - |" in table
    assert "| 3 | 2 | 1 | 0.500 | 0.750 | 0.500 |" in table
    assert "drift: correction_rate 0.400, valid_rate 0.889" in table
    summary = summary_table({"MATH-500": m, "GPQA": m}, 3)
    assert summary.splitlines()[0] == (
        "| benchmark | n | acc@1 | acc@3 | Δ | correction rate | valid rate |"
    )
    assert "| GPQA | 4 | 0.250 | 0.750 | +0.500 | 0.400 | 0.889 |" in summary
    whole = suite_markdown({"MATH-500": m}, 3)
    assert whole.index("| benchmark |") < whole.index("**MATH-500**")
