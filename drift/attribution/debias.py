"""Debias influence scores against the training gradient's norm ("gradient hacking").

Raw ⟨g_val, g_z⟩ grows with ‖g_z‖, so examples with large gradients (broken format, wrong
answers) dominate any ranking. Modes, for scores [N] or [N, K] and norms ‖g_z‖ [N]:

- ``none``: the raw score.
- ``cosine``: score / (‖g_z‖ · target_norm). With the default ``target_norm = 1`` this is
  score / ‖g_z‖, which ranks training examples exactly as the cosine does (the target norm is
  one constant per column); pass the direction's norm to get the cosine value itself.
- ``power``: score / ‖g_z‖^α (α = 1: cosine ranking, α = 0: none).
- ``residual``: least-squares fit score ≈ a + b‖g_z‖ per column, keep the residual (exactly
  uncorrelated with the norms; it inverted the ranking in an embedded-task probe).

A zero-norm example (no supervised token) scores 0 under cosine and power.
"""

from __future__ import annotations

import numpy as np

from drift.attribution.scoring_config import DebiasMode


def debias(
    scores: np.ndarray,
    norms: np.ndarray,
    mode: DebiasMode,
    alpha: float = 1.0,
    target_norm: float = 1.0,
) -> np.ndarray:
    """Debiased scores, same shape as ``scores`` [N] or [N, K] (float64)."""
    mode = DebiasMode(mode)
    s = np.asarray(scores, dtype=np.float64)
    n = np.asarray(norms, dtype=np.float64)
    if s.ndim not in (1, 2) or n.shape != s.shape[:1]:
        raise ValueError(f"scores {s.shape} must be [N] or [N, K] with norms [N], got {n.shape}")
    if not (np.isfinite(s).all() and np.isfinite(n).all()):
        raise ValueError("scores and norms must be finite")
    if (n < 0).any():
        raise ValueError("gradient norms must be >= 0")
    col = n if s.ndim == 1 else n[:, None]
    if mode is DebiasMode.none:
        return s.copy()
    if mode is DebiasMode.cosine:
        if target_norm <= 0:
            raise ValueError(f"target_norm must be > 0, got {target_norm}")
        return _safe_divide(s, col * target_norm)
    if mode is DebiasMode.power:
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        return _safe_divide(s, col**alpha)
    design = np.stack([np.ones_like(n), n], axis=1)  # [N, 2]
    coef, *_ = np.linalg.lstsq(design, s, rcond=None)
    return s - design @ coef


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    den = np.broadcast_to(den, num.shape)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
