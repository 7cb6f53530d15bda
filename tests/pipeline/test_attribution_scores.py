"""The study's reference targets: one validation task per clue for LESS."""

from drift.pipeline.attribution_scores import reference_targets
from drift.types import Problem


def _query(i: int) -> Problem:
    return Problem(
        id=f"val-{i:06d}",
        messages=[{"role": "user", "content": "1 2 3 4 odd"}],
        answer="3",
        meta={"clue": "odd" if i % 2 else "even"},
    )


def test_reference_targets_group_by_clue_for_less():
    targets = reference_targets([_query(i) for i in range(4)], group="clue")
    assert targets.group_names == ["even", "odd"]
    assert targets.examples[0].messages[-1]["content"] == "<answer>3</answer>"
