"""Preconditioners P in S(z) = ⟨P·g_val, g_z⟩.

- identity: P = I.
- Fisher: the damped inverse of the projected empirical Fisher F = mean_z φ_z φ_zᵀ [D, D], in
  closed form in the projected space: F streamed in float32, one float64 Cholesky solve per
  direction set.
- Adam (LESS): an elementwise transform of an explicit parameter-space training gradient by a
  checkpoint's optimiser state; it does not commute with a random projection, so it must be
  applied before projecting (as LESS does).
- CG: (H + λI)⁻¹ g_val by conjugate gradient with exact Hessian-vector products (double
  backprop, the true Hessian as in seed 002) over a training subsample, in parameter space.
  The solution lives in parameter space; map it into the feature space with the feature
  projector (its ``project_grads`` on the per-layer pieces from
  :func:`unflatten`) or dot it with explicit per-example gradients on small models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import scipy.linalg
import torch
from scipy.linalg.blas import ssyrk
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from drift.attribution.scoring_config import AdamForm

log = logging.getLogger(__name__)
ArrayT = TypeVar("ArrayT", Tensor, np.ndarray)


def identity(directions: np.ndarray) -> np.ndarray:
    """P = I: directions [K, D] unchanged."""
    return np.asarray(directions, dtype=np.float64)


@dataclass
class DampedFisher:
    """(F + λI)⁻¹ with F = gram / count and λ = damping · mean eigenvalue of F (= trace / D)."""

    gram: np.ndarray  # [D, D] Σ φφᵀ, float32
    count: int
    damping: float

    @property
    def fisher(self) -> np.ndarray:
        return self.gram / self.count

    @property
    def damping_abs(self) -> float:
        """The absolute λ added to the diagonal."""
        trace = float(np.trace(self.gram, dtype=np.float64))
        return self.damping * trace / (self.count * len(self.gram))

    def __call__(self, directions: np.ndarray) -> np.ndarray:
        """(F + λI)⁻¹ applied to directions [K, D] (or [D]) -> same shape, float64.

        One [D, D] float64 matrix is built in place (F, then λ on its diagonal) and
        Cholesky-factored over itself: F + λI is symmetric positive definite for λ > 0.
        """
        v = np.asarray(directions, dtype=np.float64)
        a = self.gram.astype(np.float64)
        a /= self.count
        a.flat[:: len(a) + 1] += self.damping_abs
        try:
            factor = scipy.linalg.cho_factor(a, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError as err:
            raise ValueError(
                f"projected Fisher is singular with damping={self.damping}; use damping > 0"
            ) from err
        return scipy.linalg.cho_solve(factor, v.T, check_finite=False).T


def fisher_inverse(
    features_chunks: Iterable[np.ndarray], damping: float, block: int = 1024
) -> DampedFisher:
    """Accumulate Σ φφᵀ over feature chunks [n, D] (streamed) into a damped inverse.

    float32 throughout: one [D, D] Gram matrix, each chunk added by BLAS ``ssyrk`` (the upper
    triangle only, half a matrix product's work; a float32 store's memory-mapped chunks go in
    without a copy), mirrored once at the end in ``block``-row strips. A non-finite feature
    makes the Gram diagonal non-finite, which is checked per chunk on those D values.
    ``damping`` is relative to the mean eigenvalue of F, so the same value suits any feature
    scale or projection size; damping = 0 is allowed only when F is nonsingular (N >= D).
    """
    if damping < 0:
        raise ValueError(f"damping must be >= 0, got {damping}")
    gram: np.ndarray | None = None
    count = 0
    for index, chunk in enumerate(features_chunks):
        x = np.asarray(chunk, dtype=np.float32)
        if x.ndim != 2 or (gram is not None and x.shape[1] != len(gram)):
            raise ValueError(f"chunk {index}: features must be [n, D], got {x.shape}")
        if gram is None:
            gram = np.zeros((x.shape[1], x.shape[1]), np.float32, order="F")
        if len(x):  # x.T is Fortran-ordered [D, n]: BLAS reads the chunk where it lies
            ssyrk(1.0, x.T, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
        if not np.isfinite(gram.diagonal()).all():
            raise ValueError(f"chunk {index}: features are not finite")
        count += len(x)
    if gram is None or count == 0:
        raise ValueError("no features to estimate the Fisher from")
    if not np.trace(gram) > 0:
        raise ValueError("every feature is zero: the Fisher has no scale to damp against")
    _mirror_upper(gram, block)
    return DampedFisher(gram=gram, count=count, damping=damping)


def _mirror_upper(a: np.ndarray, block: int) -> None:
    """Copy the upper triangle of the square ``a`` onto its lower one, in place, by strips of
    ``block`` rows (numpy buffers a strip's source: at most ``block`` x D values at once)."""
    for start in range(0, len(a), block):
        stop = min(start + block, len(a))
        a[start:stop, :start] = a[:start, start:stop].T
        for i in range(start, stop):  # the diagonal block, column by column
            a[i + 1 : stop, i] = a[i, i + 1 : stop]


def adam_transform(
    grad: ArrayT,
    exp_avg: ArrayT,
    exp_avg_sq: ArrayT,
    form: AdamForm = AdamForm.paper,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    step: int | None = None,
) -> ArrayT:
    """The Adam update direction a gradient would get from a checkpoint's optimiser state.

    ``less_code`` (LESS's collect_grad_reps.py): (β1·m + (1-β1)·g) / sqrt(β2·v + (1-β2)·g² + ε),
    ε inside the root, no bias correction. ``paper`` (LESS paper, default: DESIGN keeps the
    paper's wording, and with a real model's tiny v the code's ε dominates and the feature is
    mostly momentum): m̂/(sqrt(v̂) + ε) with m̂ = (β1·m + (1-β1)·g)/(1-β1^t), v̂ likewise
    with β2, t = ``step`` + 1 where ``step`` is the optimiser state's count of updates taken.
    Works elementwise on torch tensors or numpy arrays of one shape.
    """
    form = AdamForm(form)
    beta1, beta2 = betas
    m = beta1 * exp_avg + (1 - beta1) * grad
    v = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    if form is AdamForm.less_code:
        return m / (v + eps) ** 0.5
    if step is None or step < 0:
        raise ValueError(
            "adam_form=paper needs the optimiser's step count (>= 0) for bias correction"
        )
    t = int(step) + 1
    return (m / (1 - beta1**t)) / ((v / (1 - beta2**t)) ** 0.5 + eps)


def conjugate_gradient(
    hvp: Callable[[Tensor], Tensor],
    b: Tensor,
    damping: float = 0.0,
    max_iter: int = 100,
    tol: float = 1e-6,
) -> Tensor:
    """Solve (H + damping·I) x = b for a symmetric positive-definite H given only x ↦ Hx.

    Stops when ‖r‖ <= tol·‖b‖ or after ``max_iter`` steps (logged with the residual reached).
    Non-positive curvature pᵀ(H + λI)p (a true Hessian away from a minimum) raises ValueError
    asking for more damping rather than returning a meaningless solution.
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = r @ r
    b_norm = torch.sqrt(rs)
    if b_norm == 0:
        return x
    for it in range(max_iter):
        ap = hvp(p) + damping * p
        curvature = p @ ap
        if curvature <= 0:
            raise ValueError(
                f"CG iteration {it}: non-positive curvature {float(curvature):.3g}; "
                "H + damping·I is not positive definite, raise method.scoring.damping"
            )
        step = rs / curvature
        x = x + step * p
        r = r - step * ap
        rs_new = r @ r
        if torch.sqrt(rs_new) <= tol * b_norm:
            return x
        p = r + (rs_new / rs) * p
        rs = rs_new
    log.warning(
        "CG stopped after %d iterations at relative residual %.3g",
        max_iter,
        float(torch.sqrt(rs) / b_norm),
    )
    return x


def make_hvp(
    model: nn.Module,
    params: Sequence[Tensor],
    batches: Sequence[Any],
    loss_fn: Callable[[nn.Module, Any], Tensor],
) -> Callable[[Tensor], Tensor]:
    """x ↦ H x for the true Hessian of the mean over ``batches`` of ``loss_fn(model, batch)``.

    H is taken with respect to ``params`` only (e.g. the LoRA factors), by double backprop;
    ``x`` and the result are flat [P] vectors in the order of ``params``. Each call recomputes
    the forward pass per batch (memory stays one batch's graph). Put the model in eval mode
    first so dropout does not make H random. Attention runs through PyTorch's math SDPA
    kernel: the fused CPU kernel (``attn_implementation: sdpa``) has no double backward.
    """
    params = list(params)
    if not batches:
        raise ValueError("make_hvp needs at least one batch")

    def hvp(vector: Tensor) -> Tensor:
        parts = unflatten(vector.to(params[0].dtype), params)
        total = torch.zeros_like(vector)
        for batch in batches:
            with sdpa_kernel(SDPBackend.MATH):
                loss = loss_fn(model, batch)
                grads = torch.autograd.grad(
                    loss, params, create_graph=True, allow_unused=True, materialize_grads=True
                )
                dot = sum((g * v).sum() for g, v in zip(grads, parts, strict=True))
                hv = torch.autograd.grad(dot, params, allow_unused=True, materialize_grads=True)
            total += flatten(hv).detach().to(total.dtype)
        return total / len(batches)

    return hvp


def flatten(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate tensors into one flat [P] vector."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(flat: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    """Split a flat [P] vector into views shaped like ``like`` (the inverse of :func:`flatten`)."""
    sizes = [t.numel() for t in like]
    if flat.numel() != sum(sizes):
        raise ValueError(f"flat vector has {flat.numel()} values, parameters have {sum(sizes)}")
    return [chunk.view_as(t) for chunk, t in zip(torch.split(flat, sizes), like, strict=True)]
