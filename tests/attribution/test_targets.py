"""Validation target builders and target directions."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from drift.attribution.scoring_config import SignScheme
from drift.attribution.targets import (
    TargetSet,
    group_directions,
    preference_pair_targets,
    prism_preference,
    reference_answer_targets,
    signed_rollout_targets,
    target_direction,
)
from drift.config import LossTurns
from drift.types import Problem, TrainExample, Trajectory, Turn

PROMPT = [{"role": "user", "content": "5 3 2 4 odd"}]


def _traj(prompt_id: str, sample_id: int, outcomes: list[bool], ret: float) -> Trajectory:
    turns = [
        Turn(text=f"<answer>{i}</answer>", answer=str(i), correct=c, valid=True)
        for i, c in enumerate(outcomes)
    ]
    return Trajectory(prompt_id, sample_id, PROMPT, turns, "Incorrect.", target="5", ret=ret)


def _rollouts() -> list[Trajectory]:
    # q1: 3 correct, 1 wrong; q2: 1 correct, 2 wrong; q3: all correct; q4: all wrong
    spec = {
        "q1": [[True], [False, True], [True], [False, False]],
        "q2": [[False, True], [False, False], [False, False]],
        "q3": [[True], [True]],
        "q4": [[False], [False]],
    }
    out = []
    for q, episodes in spec.items():
        for k, outcomes in enumerate(episodes):
            ret = 0.9 ** outcomes.index(True) if True in outcomes else 0.0
            out.append(_traj(q, k, outcomes, ret))
    return out


def _mass(t: TargetSet) -> dict[str, tuple[float, float]]:
    return {
        name: (
            t.coeffs[(t.groups == g) & (t.coeffs > 0)].sum(),
            t.coeffs[(t.groups == g) & (t.coeffs < 0)].sum(),
        )
        for g, name in enumerate(t.group_names)
    }


def test_balanced_gives_equal_mass_and_drops_uncontrasted_queries(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        t = signed_rollout_targets(_rollouts(), SignScheme.balanced)
    assert t.group_names == ["q1", "q2"]
    assert t.empty_groups == ["q3", "q4"]
    assert "q3, q4" in caplog.text
    for pos, neg in _mass(t).values():
        assert pos == pytest.approx(1.0) and neg == pytest.approx(-1.0)
    np.testing.assert_allclose(t.coeffs, [1 / 3, 1 / 3, 1 / 3, -1, 1, -1 / 2, -1 / 2])
    assert len(t.examples) == 7 and np.isfinite(t.coeffs).all()


def test_sign_keeps_all_correct_and_all_wrong_queries() -> None:
    t = signed_rollout_targets(_rollouts(), SignScheme.sign, LossTurns.all)
    assert t.group_names == ["q1", "q2", "q3", "q4"] and t.empty_groups == []
    np.testing.assert_array_equal(t.coeffs, [1, 1, 1, -1, 1, -1, -1, 1, 1, -1, -1])
    assert t.examples[1].id == "q1/1"
    assert [m["role"] for m in t.examples[1].messages] == ["user", "assistant", "user", "assistant"]
    assert all(ex.loss_turns == "all" for ex in t.examples)


def test_advantage_is_centred_per_query() -> None:
    t = signed_rollout_targets(_rollouts(), SignScheme.advantage)
    assert t.empty_groups == ["q3", "q4"]
    q1 = np.array([1.0, 0.9, 1.0, 0.0])
    np.testing.assert_allclose(t.coeffs[t.groups == 0], q1 - q1.mean())
    for g in range(t.num_groups):
        assert t.coeffs[t.groups == g].sum() == pytest.approx(0.0)


def test_no_contrast_anywhere_raises() -> None:
    rollouts = [_traj("q", k, [True], 1.0) for k in range(3)]
    with pytest.raises(ValueError, match="scheme=balanced"):
        signed_rollout_targets(rollouts, SignScheme.balanced)
    assert signed_rollout_targets(rollouts, SignScheme.sign).coeffs.tolist() == [1, 1, 1]


def test_reference_and_preference_targets() -> None:
    problems = [Problem(f"val-{i}", PROMPT, str(i), meta={"task": "ab"[i % 2]}) for i in range(3)]
    t = reference_answer_targets(
        problems, lambda p: f"<answer>{p.answer}</answer>", task_of=lambda p: p.meta["task"]
    )
    assert t.group_names == ["a", "b"] and t.groups.tolist() == [0, 1, 0]
    assert t.examples[2].messages[-1] == {"role": "assistant", "content": "<answer>2</answer>"}
    np.testing.assert_array_equal(t.coeffs, 1.0)

    pi = prism_preference(np.array([-1.0, -3.0, -800.0]), np.array([-2.0, -1.0, 0.0]))
    np.testing.assert_allclose(
        pi[:2], [np.exp(-1) / (np.exp(-1) + np.exp(-2)), np.exp(-3) / (np.exp(-3) + np.exp(-1))]
    )
    assert pi[2] == pytest.approx(0.0) and np.isfinite(pi).all()
    ex = [TrainExample(f"e{i}", PROMPT) for i in range(4)]
    pt = preference_pair_targets([(ex[0], ex[1]), (ex[2], ex[3])], pi[:2])
    np.testing.assert_allclose(pt.coeffs, [pi[0], -pi[0], pi[1], -pi[1]])
    assert pt.groups.tolist() == [0, 0, 1, 1]


def test_target_direction_per_group_normalisation() -> None:
    feats = np.array([[3.0, 0.0], [1.0, 0.0], [0.0, 10.0], [5.0, 5.0]])
    coeffs = np.array([1.0, -1.0, 1.0, 0.0])
    groups = np.array([0, 0, 1, 1])
    np.testing.assert_allclose(target_direction(feats, coeffs, groups, False), [2.0, 10.0])
    np.testing.assert_allclose(target_direction(feats, coeffs, groups, True), [1.0, 1.0])
    mean_unit = group_directions(feats, np.ones(4), groups, 2, unit_rows=True, mean=True)
    np.testing.assert_allclose(mean_unit, [[1.0, 0.0], [np.sqrt(0.5) / 2, (1 + np.sqrt(0.5)) / 2]])


def test_target_direction_bad_input() -> None:
    with pytest.raises(ValueError, match="not finite"):
        target_direction(np.array([[np.nan, 1.0]]), np.ones(1), np.zeros(1, int), True)
    with pytest.raises(ValueError, match="zero"):
        target_direction(
            np.array([[1.0, 1.0], [1.0, 1.0]]), np.array([1.0, -1.0]), np.zeros(2, int), True
        )
