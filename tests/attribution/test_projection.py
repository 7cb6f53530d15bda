import math

import numpy as np
import pytest
import torch

import drift.attribution.projection as projection
from drift.attribution.projection import DenseProjector, KroneckerProjector, SketchProjector


def test_kronecker_projection_is_p_out_grad_p_in_transposed():
    proj = KroneckerProjector({"a": (12, 20), "b": (3, 30)}, k_in=5, k_out=4, seed=7)
    assert proj.layer_dims("a") == (4, 5) and proj.layer_dims("b") == (3, 5)  # b: out unprojected
    assert proj.dim == 4 * 5 + 3 * 5
    grad = torch.randn(2, 12, 20)
    eye_out, eye_in = torch.eye(12), torch.eye(20)
    p_out = proj.project_out("a", eye_out).T  # [4, 12]
    p_in = proj.project_in("a", eye_in).T  # [5, 20]
    expected = (p_out @ grad @ p_in.T).flatten(1)
    assert torch.allclose(proj.project_weight_grad("a", grad), expected, atol=1e-5)
    g_b = torch.randn(3, 30)
    assert torch.allclose(
        proj.project_weight_grad("b", g_b),
        (g_b @ proj.project_in("b", torch.eye(30))).flatten(),
        atol=1e-5,  # two association orders of one product: float32 rounding apart
    )


def test_kronecker_is_seeded_and_unprojected_when_k_covers_d():
    shapes = {"a": (6, 8)}
    grad = torch.randn(6, 8)
    same = KroneckerProjector(shapes, 4, 4, seed=1).project_weight_grad("a", grad)
    assert torch.equal(
        same, KroneckerProjector(shapes, 4, 4, seed=1).project_weight_grad("a", grad)
    )
    assert not torch.allclose(
        same, KroneckerProjector(shapes, 4, 4, seed=2).project_weight_grad("a", grad)
    )
    full = KroneckerProjector(shapes, 8, 6, seed=1)
    assert torch.equal(full.project_weight_grad("a", grad), grad.flatten())


def test_kronecker_preserves_inner_products_on_average():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, 24, generator=gen), torch.randn(16, 24, generator=gen)
    b = a + 0.5 * b
    ips = []
    for seed in range(300):
        p = KroneckerProjector({"w": (16, 24)}, k_in=6, k_out=4, seed=seed)
        ips.append(float(p.project_weight_grad("w", a) @ p.project_weight_grad("w", b)))
    exact = float((a * b).sum())
    assert np.mean(ips) == pytest.approx(exact, rel=0.1)


def test_sketch_adds_every_coordinate_of_every_layer_once_with_a_sign_at_the_kronecker_dim():
    shapes = {"a": (12, 20), "b": (3, 30)}
    sketch, kron = SketchProjector(shapes, 5, 4, seed=7), KroneckerProjector(shapes, 5, 4, seed=7)
    assert sketch.dim == kron.dim == 4 * 5 + 3 * 5
    rows = sketch.project_weight_grad("a", torch.eye(12 * 20).reshape(-1, 12, 20))
    assert rows.shape == (240, sketch.dim)  # a layer's part spans the whole feature vector
    assert torch.equal(rows.abs().sum(dim=1), torch.ones(240))  # one ±1 per coordinate
    grads = {"a": torch.randn(2, 12, 20), "b": torch.randn(2, 3, 30)}
    parts = sketch.project_weight_grad("a", grads["a"]) + sketch.project_weight_grad(
        "b", grads["b"]
    )
    torch.testing.assert_close(sketch.project_grads(grads), parts)
    again = SketchProjector(shapes, 5, 4, seed=7).project_grads(grads)
    assert torch.equal(again, sketch.project_grads(grads))
    assert not torch.equal(again, SketchProjector(shapes, 5, 4, seed=8).project_grads(grads))
    whole = SketchProjector({"c": (2, 3), "d": (1, 4)}, 5, 4, seed=7)  # nothing to project
    small = {"c": torch.randn(2, 2, 3), "d": torch.randn(2, 1, 4)}
    flat = torch.cat([small["c"].flatten(1), small["d"].flatten(1)], dim=1)
    assert torch.equal(whole.project_grads(small), flat)


def test_the_sketch_shares_its_dims_where_the_norm_is():
    """Per-layer blocks give each layer k_out * k_in dims whatever its share of the norm; the
    sketch spends every dim on the whole gradient, as a dense projection does: with one layer
    holding most of the norm its inner products scatter far less."""
    gen = torch.Generator().manual_seed(0)
    shapes = {f"l{i}": (32, 32) for i in range(8)}
    scale = torch.tensor([10.0] + [0.3] * 7)
    a = {n: torch.randn(32, 32, generator=gen) * scale[i] for i, n in enumerate(shapes)}
    b = {n: a[n] + torch.randn(32, 32, generator=gen) * scale[i] for i, n in enumerate(shapes)}
    exact = float(sum((a[n] * b[n]).sum() for n in shapes))
    errors = {}
    for kind in (KroneckerProjector, SketchProjector):
        ips = []
        for seed in range(100):
            p = kind(shapes, k_in=4, k_out=4, seed=seed)
            ips.append(float(p.project_grads(a) @ p.project_grads(b)))
        errors[kind.__name__] = np.mean((np.array(ips) - exact) ** 2)
    assert errors["SketchProjector"] < 0.5 * errors["KroneckerProjector"]


def test_sketch_is_unbiased_and_closer_than_kronecker_on_low_rank_gradients():
    """A one-token gradient g xᵀ: the Kronecker estimate multiplies two independent JL errors,
    the sketch makes one, so its inner products scatter less about the exact ones."""
    gen = torch.Generator().manual_seed(0)
    g, x = torch.randn(2, 64, generator=gen), torch.randn(2, 48, generator=gen)
    grads = torch.einsum("bo,bi->boi", g, x)  # [2, 64, 48], rank 1 each
    exact = float((grads[0] * grads[1]).sum())
    errors = {}
    for kind in (KroneckerProjector, SketchProjector):
        ips = []
        for seed in range(400):
            feats = kind({"w": (64, 48)}, k_in=8, k_out=8, seed=seed).project_weight_grad(
                "w", grads
            )
            ips.append(float(feats[0] @ feats[1]))
        assert np.mean(ips) == pytest.approx(
            exact, abs=0.15 * np.std(ips) * 20**0.5 + 0.1 * abs(exact)
        )
        errors[kind.__name__] = np.mean((np.array(ips) - exact) ** 2)
    assert errors["SketchProjector"] < 0.7 * errors["KroneckerProjector"]


def test_dense_projection_preserves_inner_products():
    """JL: projected inner products track the exact ones (k = 1024 of n = 3000)."""
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(1, 3000, generator=gen)
    x = base + torch.randn(24, 3000, generator=gen) * torch.linspace(0.2, 3, 24)[:, None]
    proj = DenseProjector(3000, 1024, seed=0, chunk_rows=700).project(x)
    exact, approx = (x @ x.T).flatten(), (proj @ proj.T).flatten()
    assert np.corrcoef(exact.numpy(), approx.numpy())[0, 1] > 0.97
    ratio = proj.norm(dim=1) / x.norm(dim=1)
    assert torch.all((ratio - 1).abs() < 0.12)


def test_dense_projection_never_builds_the_full_matrix(monkeypatch):
    shapes = []
    real = projection._gaussian

    def spy(rows, cols, scale_dim, seed):
        shapes.append((rows, cols))
        return real(rows, cols, scale_dim, seed)

    monkeypatch.setattr(projection, "_gaussian", spy)
    dense = DenseProjector(1000, 64, seed=3, chunk_rows=128)
    x = torch.randn(5, 1000)
    out = dense.project(x)
    assert len(shapes) == math.ceil(1000 / 128)
    assert max(r for r, _ in shapes) <= 128 and sum(r for r, _ in shapes) == 1000
    full = torch.cat([block for _, block in dense.blocks()])  # test-only: the whole matrix
    assert full.shape == (1000, 64)
    assert torch.allclose(out, x @ full, atol=1e-4)
    assert torch.equal(out, dense.project(x))  # regenerated identically from the seed


def test_dense_projection_checks_width():
    with pytest.raises(ValueError, match="1000"):
        DenseProjector(1000, 8, seed=0, chunk_rows=10).project(torch.randn(2, 999))
