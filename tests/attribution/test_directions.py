"""Validation directions: targets without contrast, PRISM pairs, damped CG."""

import numpy as np
import pytest
import torch
from tiny_lm import make_batch, make_examples
from tiny_models import tiny_llama

from drift.attribution.directions import (
    MethodSkipped,
    damped_inverse_hvp,
    drift_targets,
    prism_pairs,
    solve_damped,
)
from drift.attribution.precondition import flatten, make_hvp
from drift.attribution.scoring_config import ScoringConfig
from drift.training.loss import per_example_loss
from drift.types import Problem, Trajectory, Turn


def _query(i: int) -> Problem:
    return Problem(
        id=f"val-{i:06d}",
        messages=[{"role": "user", "content": "1 2 3 4 odd"}],
        answer="3",
        meta={"clue": "odd" if i % 2 else "even"},
    )


def _rollout(i: int, sample: int, correct: bool) -> Trajectory:
    text = "<answer>3</answer>" if correct else "<answer>1</answer>"
    turn = Turn(text=text, answer=text[8], correct=correct, valid=True)
    return Trajectory(
        prompt_id=f"val-{i:06d}",
        sample_id=sample,
        prompt=_query(i).messages,
        turns=[turn],
        feedback="Incorrect.",
        ret=float(correct),
    )


def _reply(problem: Problem) -> str:
    return f"<answer>{problem.answer}</answer>"


@pytest.mark.parametrize("correct", [True, False])
def test_no_contrast_falls_back_to_plain_signs(correct):
    rollouts = [_rollout(i, s, correct) for i in range(3) for s in range(4)]
    targets, stats = drift_targets(rollouts, ScoringConfig(scheme="balanced"))
    assert stats["targets/fallback_sign"] == 1.0
    assert stats["targets/queries_with_contrast"] == 0.0
    assert stats["targets/correct_fraction"] == float(correct)
    np.testing.assert_array_equal(targets.coeffs, np.full(12, 1.0 if correct else -1.0))
    assert np.isfinite(targets.coeffs).all() and targets.num_groups == 3


def test_balanced_targets_are_kept_when_some_query_has_contrast():
    rollouts = [_rollout(0, 0, True), _rollout(0, 1, False), _rollout(1, 0, True)]
    targets, stats = drift_targets(rollouts, ScoringConfig(scheme="balanced"))
    assert stats["targets/fallback_sign"] == 0.0
    np.testing.assert_array_equal(targets.coeffs, [1.0, -1.0])
    assert targets.empty_groups == ["val-000001"]


def test_prism_pairs_need_an_incorrect_rollout():
    queries = [_query(0), _query(1)]
    rollouts = [_rollout(0, 0, True), _rollout(0, 1, False), _rollout(1, 0, True)]
    pairs = prism_pairs(queries, rollouts, _reply)
    assert [(a.id, b.id) for a, b in pairs] == [("val-000000/desired", "val-000000/undesired")]
    assert pairs[0][0].messages[-1]["content"] == "<answer>3</answer>"
    assert pairs[0][1].messages[-1]["content"] == "<answer>1</answer>"
    with pytest.raises(MethodSkipped, match="no validation query has an incorrect rollout"):
        prism_pairs(queries, [_rollout(0, 0, True), _rollout(1, 0, True)], _reply)


def test_cg_raises_the_damping_until_the_system_is_positive_definite():
    h = torch.diag(torch.tensor([-1.0, 2.0], dtype=torch.float64))
    b = torch.tensor([1.0, 1.0], dtype=torch.float64)
    x, damping = solve_damped(lambda v: h @ v, b, ScoringConfig(damping=0.1, cg_tol=1e-12))
    assert damping == pytest.approx(10.0)
    torch.testing.assert_close((h + damping * torch.eye(2, dtype=torch.float64)) @ x, b)


def test_cg_gives_up_with_a_reason():
    h = torch.diag(torch.tensor([-1e9, 2.0], dtype=torch.float64))
    with pytest.raises(MethodSkipped, match="damping raised to"):
        solve_damped(lambda v: h @ v, torch.ones(2, dtype=torch.float64), ScoringConfig())


def _mean_loss(model, batch):
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return per_example_loss(logits, batch["input_ids"], batch["loss_mask"]).mean()


def test_damped_inverse_hvp_solves_the_damped_system_of_the_true_hessian():
    model = tiny_llama().double()
    params = [model.model.layers[0].mlp.down_proj.weight]
    targets = make_batch(make_examples([6, 9], seed=1))
    batches = [make_batch(make_examples([7, 5, 8], seed=2))]
    scoring = ScoringConfig(damping=1.0, cg_max_iter=500, cg_tol=1e-12)
    parts, damping = damped_inverse_hvp(model, params, targets, batches, scoring)
    assert [p.shape for p in parts] == [p.shape for p in params]
    with torch.enable_grad():
        g_val = flatten(torch.autograd.grad(_mean_loss(model, targets), params))
        hvp = make_hvp(model, params, batches, _mean_loss)
        x = flatten(parts)
        torch.testing.assert_close(hvp(x) + damping * x, g_val, rtol=1e-6, atol=1e-9)
