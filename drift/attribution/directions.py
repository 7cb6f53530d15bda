"""Validation directions of the influence scorers and the scores they give a feature store.

- DRIFT-IF: on-policy rollouts signed by correctness (``scoring.scheme``), falling back to
  ``sign`` when no query has both a correct and an incorrect rollout (``targets/fallback_sign``
  = 1), one direction per query, preconditioned (identity or Fisher), debiased ⟨P·g_val, g_z⟩.
- PRISM: (reference reply, first incorrect on-policy rollout) pairs; a validation set without
  an incorrect rollout raises :class:`MethodSkipped`.
- cg_if: (H + λI)⁻¹ g_val by conjugate gradient with the exact Hessian of a model's loss on
  a pool subsample, the damping raised while H + λI shows non-positive curvature.

Higher score = more helpful (kept first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from drift.attribution.loop import requiring_grad
from drift.attribution.precondition import (
    conjugate_gradient,
    fisher_inverse,
    flatten,
    make_hvp,
    unflatten,
)
from drift.attribution.scoring import direction_scores
from drift.attribution.scoring_config import PreconditionerName, ScoringConfig, SignScheme
from drift.attribution.store import FeatureStore
from drift.attribution.targets import TargetSet, signed_rollout_targets, target_direction
from drift.training.loss import per_example_loss
from drift.types import Problem, TrainExample, Trajectory

log = logging.getLogger(__name__)

CHUNK_ROWS = 8192
"""Feature rows read from a store at a time."""

CG_RETRIES = 4
"""How often :func:`solve_damped` raises the damping ×10 before it gives up."""


class MethodSkipped(ValueError):
    """A method cannot score this validation set; the message says why."""


def chunks(store: FeatureStore) -> Iterator[np.ndarray]:
    """The store's feature rows, chunk by chunk."""
    return (chunk for _, chunk in store.iter_chunks(CHUNK_ROWS))


def drift_targets(
    rollouts: Sequence[Trajectory], scoring: ScoringConfig
) -> tuple[TargetSet, dict[str, float]]:
    """Signed on-policy targets, falling back to ``sign`` when no query has a contrast."""
    scheme = SignScheme(scoring.scheme)
    solved = {}
    for t in rollouts:
        solved.setdefault(t.prompt_id, set()).add(t.final_correct)
    contrast = sum(len(v) == 2 for v in solved.values())
    stats = {
        "targets/queries": float(len(solved)),
        "targets/queries_with_contrast": float(contrast),
        "targets/correct_fraction": float(np.mean([t.final_correct for t in rollouts])),
        "targets/fallback_sign": 0.0,
    }
    if contrast == 0 and scheme is not SignScheme.sign:
        log.warning(
            "drift_if: no validation query has both a correct and an incorrect rollout, so "
            "scheme=%s has no contrast; falling back to scheme=sign",
            scheme.value,
        )
        scheme, stats["targets/fallback_sign"] = SignScheme.sign, 1.0
    return signed_rollout_targets(rollouts, scheme, scoring.loss_turns), stats


def precondition_direction(
    store: FeatureStore, scoring: ScoringConfig, direction: np.ndarray
) -> np.ndarray:
    """``direction`` [D, Q] under ``scoring.preconditioner`` (identity or the store's Fisher)."""
    name = PreconditionerName(scoring.preconditioner)
    if name is PreconditionerName.identity:
        return direction
    if name is PreconditionerName.fisher:
        return fisher_inverse(chunks(store), scoring.damping)(direction)
    raise MethodSkipped(
        f"method.scoring.preconditioner={name.value} applies to less (adam) and cg_if (cg) only"
    )


def signed_influence(
    rollouts: Sequence[Trajectory],
    scoring: ScoringConfig,
    target_features: Callable[[TargetSet], np.ndarray],
    store: FeatureStore,
) -> tuple[np.ndarray, dict[str, float]]:
    """Debiased ⟨P·g_val, g_z⟩ [N] of the rows of ``store``, g_val from the signed on-policy
    ``rollouts``; ``target_features`` gives their projected gradients in the store's space."""
    targets, stats = drift_targets(rollouts, scoring)
    feats = target_features(targets)
    direction = target_direction(feats, targets.coeffs, targets.groups, scoring.normalize_per_group)
    direction = precondition_direction(store, scoring, direction)
    return direction_scores(chunks(store), direction, scoring.debias, scoring.alpha)[:, 0], stats


def prism_pairs(
    queries: Sequence[Problem],
    rollouts: Sequence[Trajectory],
    reply: Callable[[Problem], str],
) -> list[tuple[TrainExample, TrainExample]]:
    """(reference ``reply``, first incorrect on-policy rollout) per query that has one."""
    wrong: dict[str, Trajectory] = {}
    for t in rollouts:
        if not t.final_correct:
            wrong.setdefault(t.prompt_id, t)
    pairs = []
    for q in queries:
        if q.id not in wrong:
            continue
        desired = [*q.messages, {"role": "assistant", "content": reply(q)}]
        pairs.append(
            (
                TrainExample(id=f"{q.id}/desired", messages=desired),
                TrainExample(id=f"{q.id}/undesired", messages=wrong[q.id].messages()),
            )
        )
    if not pairs:
        raise MethodSkipped(
            "prism: no validation query has an incorrect rollout to serve as the undesired "
            "response; raise study.rollouts_per_query or rollout.temperature"
        )
    return pairs


def damped_inverse_hvp(
    model: nn.Module,
    params: Sequence[Tensor],
    targets: dict[str, Tensor],
    batches: Sequence[dict[str, Tensor]],
    scoring: ScoringConfig,
) -> tuple[list[Tensor], float]:
    """(H + λI)⁻¹ g_val shaped like ``params``, and the λ used (:func:`solve_damped`).

    g_val is the gradient of the mean loss on the padded ``targets`` batch, H the exact Hessian
    of the mean loss over ``batches`` (both the training loss: token-mean NLL over loss_mask).
    """
    with requiring_grad(params), torch.enable_grad():
        g_val = torch.autograd.grad(_mean_loss(model, targets), params)
        hvp = make_hvp(model, params, batches, _mean_loss)
        x, damping = solve_damped(hvp, flatten([g.detach() for g in g_val]), scoring)
    return unflatten(x, params), damping


def solve_damped(
    hvp: Callable[[Tensor], Tensor], b: Tensor, scoring: ScoringConfig
) -> tuple[Tensor, float]:
    """(H + λI)⁻¹ b by CG; λ starts at ``scoring.damping`` and grows ×10 (up to
    :data:`CG_RETRIES` times) while H + λI shows non-positive curvature (H is the true, possibly
    indefinite, Hessian of a model away from a minimum). Returns the solution and the λ used."""
    damping = scoring.damping
    for attempt in range(CG_RETRIES + 1):
        try:
            return conjugate_gradient(hvp, b, damping, scoring.cg_max_iter, scoring.cg_tol), damping
        except ValueError as err:
            if attempt == CG_RETRIES:
                raise MethodSkipped(f"cg_if: {err} (damping raised to {damping})") from None
            damping = 10 * max(damping, 1e-3)
            log.warning("cg_if: %s; retrying with damping %.3g", err, damping)
    raise AssertionError("unreachable")


def _mean_loss(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return per_example_loss(logits.logits, batch["input_ids"], batch["loss_mask"]).mean()
