"""Scores of training features against target directions, streamed chunk by chunk.

Memory is bounded by one feature chunk plus the [N, K] result: features [N, D] are never held
whole. Products are taken in float32 by BLAS (features are stored as float16/float32; scores
agree with a float64 computation to float32 rounding) and debiased in float64. Non-finite
features raise ValueError naming the row; there is no silent fallback.

How the gradient scorers use these pieces (features = projected loss gradients, P = a
preconditioner from :mod:`drift.attribution.precondition`):

- drift_if: ``target_direction(φ_val, signed coeffs, queries, normalize_per_group=True)``, P,
  then :func:`direction_scores` with the configured debiasing.
- prism: the same with pair targets (coeff ±π_q) and ``normalize_per_group=False``.
- grad_sim: reference targets, identity, cosine (seed 002's gradient similarity).
- less: per checkpoint :func:`less_checkpoint_scores` on Adam-transformed training features
  and plain target gradients, then :func:`less_aggregate` over checkpoints.
- cg_if: the CG solution x = (H + λI)⁻¹ g_val, projected into feature space, as the direction.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from drift.attribution.debias import debias
from drift.attribution.scoring_config import DebiasMode
from drift.attribution.targets import TargetSet, group_directions


def stream_scores_with_norms(
    chunks: Iterable[np.ndarray], directions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Inner products [N, K] of feature rows with ``directions`` [K, D] (or [D]); row norms [N].

    float32 throughout: each chunk goes to BLAS as it comes (a float32 store's chunks are
    memory-mapped views, never copied; other dtypes are cast once), and one pass takes the
    squared row norms. A non-finite value makes its row's squared norm non-finite, so that
    [n] vector is the only finiteness check (a row whose squared norm overflows float32,
    entries near 1e19, is refused the same way).
    """
    dirs = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    if dirs.ndim != 2 or not np.isfinite(dirs).all():
        raise ValueError(f"directions must be a finite [K, D] array, got shape {dirs.shape}")
    dirs_t = np.ascontiguousarray(dirs.T, dtype=np.float32)  # [D, K]
    scores: list[np.ndarray] = []
    norms: list[np.ndarray] = []
    offset = 0
    for index, chunk in enumerate(chunks):
        x = np.asarray(chunk, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != dirs.shape[1]:
            raise ValueError(f"chunk {index}: expected [n, {dirs.shape[1]}], got {x.shape}")
        squares = np.einsum("nd,nd->n", x, x)
        bad = np.flatnonzero(~np.isfinite(squares))
        if bad.size:
            raise ValueError(
                f"feature row {offset + bad[0]} (chunk {index}) is not finite (or its squared "
                f"norm overflows float32); "
                f"{bad.size} bad rows in this chunk"
            )
        scores.append(x @ dirs_t)
        norms.append(np.sqrt(squares))
        offset += len(x)
    if not scores:
        return np.zeros((0, len(dirs)), np.float32), np.zeros(0, np.float32)
    return np.concatenate(scores), np.concatenate(norms)


def direction_scores(
    chunks: Iterable[np.ndarray],
    directions: np.ndarray,
    mode: DebiasMode = DebiasMode.cosine,
    alpha: float = 1.0,
) -> np.ndarray:
    """Debiased scores [N, K]: one streamed pass, then :func:`debias` with the row norms."""
    raw, norms = stream_scores_with_norms(chunks, directions)
    return debias(raw, norms, mode, alpha)


def less_checkpoint_scores(
    train_chunks: Iterable[np.ndarray], target_features: np.ndarray, targets: TargetSet
) -> np.ndarray:
    """One checkpoint's LESS scores [N, T]: mean over each task's examples of cos(z, target).

    LESS unit-normalises both sides and averages the cosines within a task; by linearity that
    is ⟨z/‖z‖, mean_m φ_m/‖φ_m‖⟩, one direction per task. ``targets.coeffs`` act as
    per-example weights in that mean (all 1 for reference-answer targets).
    """
    dirs = group_directions(
        target_features,
        targets.coeffs,
        targets.groups,
        targets.num_groups,
        unit_rows=True,
        mean=True,
    )
    return direction_scores(train_chunks, dirs, DebiasMode.cosine)


def less_aggregate(per_ckpt_task_scores: np.ndarray, lrs: np.ndarray) -> np.ndarray:
    """LESS's combination [C, N, T] -> [N]: Σ_c lr_c · score_c, then the max over tasks.

    ``lrs`` [C] are the checkpoints' weights (LESS: the mean learning rate of the epoch that
    ends at each checkpoint). Summing before the max matches LESS's ``matching.py``.
    """
    s = np.asarray(per_ckpt_task_scores, dtype=np.float64)
    w = np.asarray(lrs, dtype=np.float64)
    if s.ndim != 3 or w.shape != (s.shape[0],):
        raise ValueError(f"need scores [C, N, T] and lrs [C], got {s.shape} and {w.shape}")
    if s.shape[2] == 0:
        raise ValueError("no validation task to take the max over")
    return np.einsum("c,cnt->nt", w, s).max(axis=1)
