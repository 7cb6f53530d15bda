"""Validation targets: which conversations' gradients form the target direction, and how signed.

Convention shared by every scorer: features are gradients of the per-example *loss*, a target
coefficient c > 0 means "we want this target's loss to go down" (c < 0: up), and a training
example's score ⟨g_z, Σ c_m g_m⟩ is the first-order decrease of that signed target loss when
training on z. Higher score = more helpful.

Builders:
- :func:`signed_rollout_targets`: DRIFT-IF's on-policy rollouts signed by correctness.
- :func:`reference_answer_targets`: LESS's off-policy reference answers (c = +1).
- :func:`preference_pair_targets`: PRISM's desired/undesired pairs (c = ±π_q).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from drift.attribution.scoring_config import SignScheme
from drift.config import LossTurns
from drift.types import Problem, TrainExample, Trajectory

log = logging.getLogger(__name__)


@dataclass
class TargetSet:
    """Target examples [M], their coefficients [M] and group codes [M] into ``group_names``.

    ``empty_groups`` names the queries that carried no signal under the signing scheme and were
    left out (e.g. ``balanced``/``advantage`` on a query whose rollouts all agree).
    """

    examples: list[TrainExample]
    coeffs: np.ndarray
    groups: np.ndarray
    group_names: list[str]
    empty_groups: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.coeffs = np.asarray(self.coeffs, dtype=np.float64)
        self.groups = np.asarray(self.groups, dtype=np.int64)
        m = len(self.examples)
        if self.coeffs.shape != (m,) or self.groups.shape != (m,):
            raise ValueError(
                f"{m} examples but coeffs {self.coeffs.shape} and groups {self.groups.shape}"
            )
        if not np.isfinite(self.coeffs).all():
            raise ValueError("target coefficients must be finite")
        if m and (self.groups.min() < 0 or self.groups.max() >= len(self.group_names)):
            raise ValueError(f"group codes must lie in [0, {len(self.group_names)})")

    @property
    def num_groups(self) -> int:
        return len(self.group_names)


def signed_rollout_targets(
    trajectories: Sequence[Trajectory],
    scheme: SignScheme,
    loss_turns: LossTurns = LossTurns.final,
) -> TargetSet:
    """DRIFT-IF targets: each validation rollout signed by its correctness, grouped by query.

    Correct = solved at some turn. Coefficients per query q with n⁺ correct and n⁻ wrong rollouts:
    ``sign``: +1 / -1 (an all-correct query keeps +1 on each rollout: it pulls towards them);
    ``balanced``: +1/n⁺ / -1/n⁻, so both sides carry mass 1; ``advantage``: R - mean_q R with R
    the episode return. Under ``balanced`` and ``advantage`` a query whose rollouts all agree has
    no contrast: its coefficients are zero, it is dropped (no division by zero) and reported in
    ``empty_groups`` and the log; zero-coefficient rollouts are dropped too (their gradients
    would be wasted work). If no query is left, ValueError.

    A rollout is correct when its last answer is (:attr:`~drift.types.Trajectory.final_correct`;
    under the oracle protocol: when it was solved). ``loss_turns`` (default final): the final
    turn is exactly the turn the sign judges; ``all`` would also put a correct episode's earlier
    answers (wrong ones, under the oracle protocol) under +1.
    """
    scheme = SignScheme(scheme)
    if not trajectories:
        raise ValueError("no validation rollouts given")
    names, codes = np.unique([t.prompt_id for t in trajectories], return_inverse=True)
    correct = np.array([t.final_correct for t in trajectories])
    if scheme is SignScheme.sign:
        coeffs = np.where(correct, 1.0, -1.0)
    elif scheme is SignScheme.balanced:
        coeffs = _balanced(correct, codes, len(names))
    else:
        returns = np.array([t.ret for t in trajectories], dtype=np.float64)
        coeffs = returns - _group_mean(returns, codes, len(names))[codes]
    turns = LossTurns(loss_turns).value
    examples = [
        TrainExample(
            id=f"{t.prompt_id}/{t.sample_id}",
            messages=t.messages(),
            loss_turns=turns,
            prefill=t.prefill,
        )
        for t in trajectories
    ]
    return _drop_zero(examples, coeffs, codes, [str(n) for n in names], scheme.value)


def reference_answer_targets(
    problems: Sequence[Problem],
    answer_text: Callable[[Problem], str],
    task_of: Callable[[Problem], str] | None = None,
) -> TargetSet:
    """LESS targets: each problem with its reference answer as the assistant turn, coeff +1.

    Groups are validation tasks (``task_of``; default one task named "all"), the unit over which
    LESS averages before taking the max over tasks.
    """
    if not problems:
        raise ValueError("no validation problems given")
    examples = [
        TrainExample(
            id=p.id,
            messages=[*p.messages, {"role": "assistant", "content": answer_text(p)}],
        )
        for p in problems
    ]
    tasks = [task_of(p) if task_of else "all" for p in problems]
    names, codes = np.unique(tasks, return_inverse=True)
    return TargetSet(examples, np.ones(len(problems)), codes, [str(n) for n in names])


def prism_preference(mean_logp_pos: np.ndarray, mean_logp_neg: np.ndarray) -> np.ndarray:
    """PRISM's π_q = p̄⁺/(p̄⁺+p̄⁻), p̄ = exp(mean token log-likelihood), as sigmoid(Δ) [Q]."""
    pos = np.asarray(mean_logp_pos, dtype=np.float64)
    neg = np.asarray(mean_logp_neg, dtype=np.float64)
    if pos.shape != neg.shape:
        raise ValueError(f"log-likelihood shapes differ: {pos.shape} vs {neg.shape}")
    if not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise ValueError("mean log-likelihoods must be finite")
    return 0.5 * (1.0 + np.tanh(0.5 * (pos - neg)))  # overflow-free sigmoid


def preference_pair_targets(
    pairs: Sequence[tuple[TrainExample, TrainExample]], preference: np.ndarray
) -> TargetSet:
    """PRISM targets: pair q = (desired, undesired) gets +π_q on desired, -π_q on undesired.

    The group of both members is the pair, so the direction is Σ_q π_q (∇ℓ⁺ - ∇ℓ⁻): following
    it lowers the desired response's loss and raises the undesired one's.
    """
    pi = np.asarray(preference, dtype=np.float64)
    if pi.shape != (len(pairs),):
        raise ValueError(f"{len(pairs)} pairs but preference has shape {pi.shape}")
    if not pairs:
        raise ValueError("no preference pairs given")
    examples = [ex for pair in pairs for ex in pair]
    coeffs = np.stack([pi, -pi], axis=1).reshape(-1)
    groups = np.repeat(np.arange(len(pairs)), 2)
    return TargetSet(examples, coeffs, groups, [pos.id for pos, _ in pairs])


def group_directions(
    features: np.ndarray,
    coeffs: np.ndarray,
    groups: np.ndarray,
    num_groups: int,
    unit_rows: bool = False,
    mean: bool = False,
) -> np.ndarray:
    """Per group g: Σ_{m in g} c_m φ_m -> [G, D] (float64).

    ``unit_rows`` unit-normalises each target feature φ_m [M, D] first (zero rows stay zero);
    ``mean`` divides by the group's size. LESS uses both: the mean of a task's cosines to z is
    ⟨z/‖z‖, mean_m φ_m/‖φ_m‖⟩, so one direction per task replaces M per-example directions.
    """
    phi = _check_features(features, len(coeffs))
    if unit_rows:
        norms = np.linalg.norm(phi, axis=1, keepdims=True)
        phi = np.divide(phi, norms, out=np.zeros_like(phi), where=norms > 0)
    out = np.zeros((num_groups, phi.shape[1]), dtype=np.float64)
    np.add.at(out, np.asarray(groups), phi * np.asarray(coeffs, dtype=np.float64)[:, None])
    if mean:
        out /= np.maximum(np.bincount(groups, minlength=num_groups), 1)[:, None]
    return out


def target_direction(
    features: np.ndarray, coeffs: np.ndarray, groups: np.ndarray, normalize_per_group: bool
) -> np.ndarray:
    """One direction [D]: the sum over groups of each group's signed sum of target features.

    With ``normalize_per_group`` each group's sum is unit-normalised first, so every query
    counts equally whatever its gradient scale; a group whose sum is zero contributes nothing.
    """
    groups = np.asarray(groups)
    num = int(groups.max()) + 1 if groups.size else 0
    per_group = group_directions(features, coeffs, groups, num)
    if normalize_per_group:
        norms = np.linalg.norm(per_group, axis=1, keepdims=True)
        per_group = np.divide(per_group, norms, out=np.zeros_like(per_group), where=norms > 0)
    direction = per_group.sum(axis=0)
    if not direction.any():
        raise ValueError("the target direction is zero: no target carries a nonzero gradient")
    return direction


def _check_features(features: np.ndarray, m: int) -> np.ndarray:
    phi = np.asarray(features, dtype=np.float64)
    if phi.ndim != 2 or phi.shape[0] != m:
        raise ValueError(f"target features must be [{m}, D], got {phi.shape}")
    bad = np.flatnonzero(~np.isfinite(phi).all(axis=1))
    if bad.size:
        raise ValueError(f"{bad.size} target feature rows are not finite (first: row {bad[0]})")
    return phi


def _balanced(correct: np.ndarray, codes: np.ndarray, num: int) -> np.ndarray:
    n_pos = np.bincount(codes, weights=correct.astype(np.float64), minlength=num)[codes]
    n_neg = np.bincount(codes, weights=(~correct).astype(np.float64), minlength=num)[codes]
    mixed = (n_pos > 0) & (n_neg > 0)
    pos = np.divide(1.0, n_pos, out=np.zeros_like(n_pos), where=mixed)
    neg = np.divide(1.0, n_neg, out=np.zeros_like(n_neg), where=mixed)
    return np.where(correct, pos, -neg)


def _group_mean(values: np.ndarray, codes: np.ndarray, num: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=num) / np.bincount(codes, minlength=num)


def _drop_zero(
    examples: list[TrainExample],
    coeffs: np.ndarray,
    codes: np.ndarray,
    names: list[str],
    scheme: str,
) -> TargetSet:
    keep = coeffs != 0
    alive = np.bincount(codes[keep], minlength=len(names)) > 0
    empty = [n for n, a in zip(names, alive, strict=True) if not a]
    if empty:
        log.warning(
            "scheme=%s: %d of %d validation queries have no correct/incorrect contrast and carry "
            "no weight: %s",
            scheme,
            len(empty),
            len(names),
            ", ".join(empty[:10]) + (" ..." if len(empty) > 10 else ""),
        )
    if not keep.any():
        raise ValueError(
            f"scheme={scheme}: every validation query has all-correct or all-wrong rollouts, so "
            "no target carries weight; use scheme=sign or more rollouts per query"
        )
    new_code = np.cumsum(alive) - 1  # old group code -> code among surviving groups
    return TargetSet(
        examples=[ex for ex, k in zip(examples, keep, strict=True) if k],
        coeffs=coeffs[keep],
        groups=new_code[codes[keep]],
        group_names=[n for n, a in zip(names, alive, strict=True) if a],
        empty_groups=empty,
    )
