"""Fisher inverse, Adam transforms, conjugate gradient and Hessian-vector products."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.attention import SDPBackend, sdpa_kernel

from drift.attribution.precondition import (
    adam_transform,
    conjugate_gradient,
    fisher_inverse,
    flatten,
    make_hvp,
    unflatten,
)
from drift.attribution.scoring_config import AdamForm


def test_fisher_inverse_matches_dense_solve() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(23, 9)).astype(np.float32) * rng.uniform(0.1, 3, size=9)
    dirs = rng.normal(size=(2, 9))
    inv = fisher_inverse([feats[:5], feats[5:6], feats[6:]], damping=0.3, block=4)
    f = feats.astype(np.float64).T @ feats.astype(np.float64) / 23  # the old float64 Fisher
    lam = 0.3 * np.trace(f) / 9
    assert inv.damping_abs == pytest.approx(lam, rel=1e-6)
    np.testing.assert_allclose(inv.fisher, f, rtol=1e-5, atol=1e-6)  # both triangles
    expected = np.linalg.solve(f + lam * np.eye(9), dirs.T).T
    np.testing.assert_allclose(inv(dirs), expected, rtol=1e-5)
    np.testing.assert_allclose(inv(dirs[0]), expected[0], rtol=1e-5)


def _peak_bytes(call) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_fisher_is_streamed_in_float32_with_one_float64_matrix() -> None:
    """The Gram matrix is one float32 [D, D] (no float64 chunk copies, no product
    temporaries); applying the inverse builds one float64 [D, D], not several."""
    rng = np.random.default_rng(3)
    dim = 256
    feats = rng.normal(size=(4096, dim)).astype(np.float32)  # 4 MB
    chunks = [feats[:2048], feats[2048:]]
    gram32 = dim * dim * 4
    assert _peak_bytes(lambda: fisher_inverse(chunks, damping=0.1)) < 1.5 * gram32
    inv = fisher_inverse(chunks, damping=0.1)
    assert inv.gram.dtype == np.float32
    assert _peak_bytes(lambda: inv(rng.normal(size=(2, dim)))) < 1.5 * 2 * gram32


def test_fisher_inverse_bad_input() -> None:
    with pytest.raises(ValueError, match="singular"):
        fisher_inverse([np.ones((3, 4))], damping=0.0)(np.ones(4))
    with pytest.raises(ValueError, match="not finite"):
        fisher_inverse([np.array([[np.nan, 1.0]])], damping=0.1)
    with pytest.raises(ValueError, match="no features"):
        fisher_inverse([], damping=0.1)


def test_adam_transform_both_forms_by_hand() -> None:
    g, m, v = np.array([0.2, -1.0]), np.array([0.1, 0.0]), np.array([0.04, 1e-12])
    b1, b2, eps = 0.9, 0.999, 1e-8
    m1 = b1 * m + (1 - b1) * g
    v1 = b2 * v + (1 - b2) * g**2
    code = adam_transform(g, m, v, AdamForm.less_code, (b1, b2), eps)
    np.testing.assert_allclose(code, m1 / np.sqrt(v1 + eps))
    paper = adam_transform(g, m, v, AdamForm.paper, (b1, b2), eps, step=9)
    t = 10
    np.testing.assert_allclose(paper, (m1 / (1 - b1**t)) / (np.sqrt(v1 / (1 - b2**t)) + eps))
    torch_out = adam_transform(torch.tensor(g), torch.tensor(m), torch.tensor(v), step=9)
    np.testing.assert_allclose(torch_out.numpy(), paper)
    with pytest.raises(ValueError, match="step"):
        adam_transform(g, m, v, AdamForm.paper)


def test_cg_solves_spd_system() -> None:
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(20, 20, generator=gen, dtype=torch.float64)
    a = q @ q.T + 0.5 * torch.eye(20, dtype=torch.float64)
    b = torch.randn(20, generator=gen, dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, damping=0.0, max_iter=200, tol=1e-12)
    torch.testing.assert_close(x, torch.linalg.solve(a, b))
    xd = conjugate_gradient(lambda v: a @ v, b, damping=2.0, max_iter=200, tol=1e-12)
    torch.testing.assert_close(xd, torch.linalg.solve(a + 2.0 * torch.eye(20, dtype=a.dtype), b))
    assert not conjugate_gradient(lambda v: a @ v, torch.zeros_like(b)).any()


def test_cg_refuses_negative_curvature() -> None:
    a = torch.diag(torch.tensor([1.0, -2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="damping"):
        conjugate_gradient(lambda v: a @ v, torch.tensor([0.0, 1.0], dtype=torch.float64))


def _tiny() -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    batches = [
        (torch.randn(5, 3, dtype=torch.float64), torch.randint(0, 3, (5,))) for _ in range(2)
    ]
    return model, batches


def _loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return nn.functional.cross_entropy(model(batch[0]), batch[1])


def test_hvp_matches_explicit_hessian_and_cg_inverts_it() -> None:
    model, batches = _tiny()
    names = ["0.weight", "2.bias"]
    params = [dict(model.named_parameters())[n] for n in names]

    def mean_loss(flat: torch.Tensor) -> torch.Tensor:
        sub = dict(zip(names, unflatten(flat, params), strict=True))
        losses = [
            nn.functional.cross_entropy(functional_call(model, sub, (x,)), y) for x, y in batches
        ]
        return torch.stack(losses).mean()

    hessian = torch.autograd.functional.hessian(mean_loss, flatten(params).detach())  # [15, 15]
    hvp = make_hvp(model, params, batches, _loss)
    v = torch.randn(15, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(hvp(v), hessian @ v)
    damping = float(torch.linalg.eigvalsh(hessian).min().abs()) + 0.1
    x = conjugate_gradient(hvp, v, damping=damping, max_iter=100, tol=1e-10)
    torch.testing.assert_close(x, torch.linalg.solve(hessian + damping * torch.eye(15).double(), v))


def test_unflattened_solution_projects_like_features() -> None:
    projection = pytest.importorskip("drift.attribution.projection")
    shapes = {"a": (3, 4), "b": (2, 5)}
    projector = projection.KroneckerProjector(shapes, k_in=8, k_out=8, seed=0)  # k >= d: exact
    like = [torch.zeros(s) for s in shapes.values()]
    x, g = torch.randn(22), torch.randn(22)
    px = projector.project_grads(dict(zip(shapes, unflatten(x, like), strict=True)))
    pg = projector.project_grads(dict(zip(shapes, unflatten(g, like), strict=True)))
    torch.testing.assert_close(px @ pg, x @ g)


def test_hvp_through_fused_attention() -> None:
    """``F.scaled_dot_product_attention`` (HF's ``attn_implementation: sdpa``) has no double
    backward in its fused CPU kernel; make_hvp runs it through the math kernel."""
    torch.manual_seed(0)
    proj = nn.Linear(8, 24)

    def attend(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        q, k, v = module(x).view(1, 2, 5, 24).chunk(3, dim=-1)
        out = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return (out**2).mean()

    x = torch.randn(10, 8)
    params = [proj.weight]

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        return attend(lambda inp: functional_call(proj, {"weight": flat.view(24, 8)}, (inp,)), x)

    with sdpa_kernel(SDPBackend.MATH):  # the reference needs double backward too
        hessian = torch.autograd.functional.hessian(loss_of, proj.weight.detach().flatten())
    v = torch.randn(192)
    got = make_hvp(proj, params, [x], attend)(v)
    torch.testing.assert_close(got, hessian @ v, rtol=1e-4, atol=1e-6)
