"""The rollout benchmark at tiny size: the raw generate loop reproduces the driver's texts."""

from __future__ import annotations

from drift.bench.harness import Size
from drift.bench.rollout import run


def test_tiny_run_matches_texts_at_one_and_five_turns() -> None:
    result = run(Size.TINY, repeats=1)
    assert result.notes["identical_texts"] == {"1 turn(s)": True, "5 turn(s)": True}
    assert result.units["drift 5 turn(s)"] > result.units["drift 1 turn(s)"] > 0
