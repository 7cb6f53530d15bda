import math

import pytest
import torch
from tiny_lm import make_batch, make_examples

from drift.attribution import hooks
from drift.attribution.hooks import (
    GradientCollector,
    explicit_features,
    explicit_route,
    kronecker_features,
)
from drift.attribution.layers import layer_shapes, select_layers
from drift.attribution.projection import KroneckerProjector, SketchProjector
from drift.attribution.reference import reference_features
from drift.training.loss import per_example_loss

LENGTHS = [9, 14, 5, 11]  # right padding up to 14; example 2 has no loss token


def hook_features(model, batch, modules, projector):
    with GradientCollector(model, modules, projector) as col:
        col.set_mask(batch["attention_mask"])
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return col.backward(per_example_loss(logits, batch["input_ids"], batch["loss_mask"]))


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("kind", [KroneckerProjector, SketchProjector])
@pytest.mark.parametrize("which", ["lora", "plain"])
def test_hook_features_match_explicit_per_example_gradients(which, kind, lora_model, plain_model):
    model = lora_model if which == "lora" else plain_model
    modules = select_layers(model)
    assert all(("lora_" in n) == (which == "lora") for n in modules)
    projector = kind(layer_shapes(modules), k_in=8, k_out=8, seed=3)
    batch = make_batch(make_examples(LENGTHS, empty=(2,)))
    feats, sq = hook_features(model, batch, modules, projector)
    ref_feats, ref_sq = reference_features(model, batch, modules, projector, per_example_loss)
    assert feats.shape == (4, projector.dim) == ref_feats.shape
    assert rel_err(feats, ref_feats) < 1e-5
    assert rel_err(sq, ref_sq) < 1e-5
    assert torch.all(feats[2] == 0) and sq[2] == 0  # no loss token: zero gradient, not NaN
    assert torch.all(ref_sq[[0, 1, 3]] > 0)
    for i in (0, 1, 3):  # every example, not just the total, agrees
        assert rel_err(feats[i], ref_feats[i]) < 1e-5


def test_features_independent_of_batch_size_and_padding(plain_model):
    modules = select_layers(plain_model, [r"mlp\.(up|down)_proj$"])
    assert len(modules) == 4
    projector = KroneckerProjector(layer_shapes(modules), k_in=16, k_out=4, seed=0)
    examples = make_examples(LENGTHS, seed=1)
    full, full_sq = hook_features(plain_model, make_batch(examples), modules, projector)
    for i, ex in enumerate(examples):
        alone, alone_sq = hook_features(
            plain_model, make_batch([ex], extra_pad=6), modules, projector
        )
        assert rel_err(alone[0], full[i]) < 1e-5
        assert rel_err(alone_sq, full_sq[i : i + 1]) < 1e-5
    pair, _ = hook_features(plain_model, make_batch(examples[2:]), modules, projector)
    assert rel_err(pair, full[2:]) < 1e-5


def test_no_weight_gradients_and_hooks_removed(lora_model):
    modules = select_layers(lora_model)
    projector = KroneckerProjector(layer_shapes(modules), k_in=8, k_out=8, seed=0)
    flags = {n: p.requires_grad for n, p in lora_model.named_parameters()}
    hook_features(lora_model, make_batch(make_examples(LENGTHS)), modules, projector)
    assert all(p.grad is None for p in lora_model.parameters())
    assert flags == {n: p.requires_grad for n, p in lora_model.named_parameters()}
    assert all(not m._forward_hooks for m in lora_model.modules())


def test_frozen_model_still_gives_features(plain_model):
    """Hooks need no trainable parameter: the embeddings' output is made to require grad."""
    modules = select_layers(plain_model)
    projector = KroneckerProjector(layer_shapes(modules), k_in=8, k_out=8, seed=0)
    batch = make_batch(make_examples([6, 8]))
    expected, _ = hook_features(plain_model, batch, modules, projector)
    for p in plain_model.parameters():
        p.requires_grad_(False)
    try:
        got, _ = hook_features(plain_model, batch, modules, projector)
    finally:
        for p in plain_model.parameters():
            p.requires_grad_(True)
    assert rel_err(got, expected) < 1e-6


def test_set_mask_is_required(plain_model):
    modules = select_layers(plain_model)
    projector = KroneckerProjector(layer_shapes(modules), k_in=8, k_out=8, seed=0)
    with (
        GradientCollector(plain_model, modules, projector),
        pytest.raises(RuntimeError, match="set_mask"),
    ):
        plain_model(input_ids=torch.ones(1, 3, dtype=torch.long))


@pytest.mark.parametrize("route", [explicit_features, kronecker_features])
@pytest.mark.parametrize(
    ("t", "d_out", "d_in", "k"),
    [(7, 4, 12, 6), (7, 12, 4, 6), (3, 10, 9, 16), (12, 6, 5, 2)],  # wide/narrow, unprojected
)
def test_both_routes_give_the_projected_gradient_and_its_exact_norm(route, t, d_out, d_in, k):
    gen = torch.Generator().manual_seed(t + d_out)
    g, x = torch.randn(5, t, d_out, generator=gen), torch.randn(5, t, d_in, generator=gen)
    projector = KroneckerProjector({"w": (d_out, d_in)}, k_in=k, k_out=k, seed=2)
    grad = torch.einsum("bto,bti->boi", g, x)
    feats, sq = route(g, x, projector, "w")
    assert torch.allclose(feats, projector.project_weight_grad("w", grad), rtol=1e-5, atol=1e-5)
    assert torch.allclose(sq, grad.square().sum(dim=(1, 2)), rtol=1e-5)


def test_route_choice_follows_the_cost():
    assert explicit_route(64, 8, 128, 8, 16) and explicit_route(64, 128, 8, 16, 8)  # LoRA
    assert not explicit_route(16, 896, 896, 16, 16)  # wide layer, short: Gram and projections
    assert explicit_route(512, 896, 896, 16, 16)  # long: the T x T Grams cost more
    assert explicit_route(4, 64, 64, 64, 64)  # nothing projected: Gᵀ X is the feature


class _Toy(torch.nn.Module):
    """Embedding -> linear; the pad token (0) embeds to ``pad_value`` (garbage or NaN)."""

    def __init__(self, pad_value: float) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(10, 6)
        self.proj = torch.nn.Linear(6, 5, bias=False)
        with torch.no_grad():
            self.embed.weight[0] = pad_value

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.embed

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.proj(self.embed(ids))


@pytest.mark.parametrize("explicit", [True, False])
@pytest.mark.parametrize("pad_value", [7.0, float("nan")])
def test_padding_rows_are_masked_out_of_inputs_and_gradients(pad_value, explicit, monkeypatch):
    """Garbage at pad rows (NaN inputs, or gradients that reach them) must not leak in."""
    monkeypatch.setattr(hooks, "explicit_route", lambda *dims: explicit)
    toy = _Toy(pad_value)
    modules = {"proj": toy.proj}
    projector = KroneckerProjector({"proj": (5, 6)}, k_in=4, k_out=3, seed=1)
    ids = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]])
    mask = ids != 0  # right padding in row 0 only

    def losses(out, m):  # NaN pads: loss on real rows only; finite pads: every row counts
        sq = out.square().sum(-1)
        return torch.where(m, sq, 0.0).sum(1) if math.isnan(pad_value) else sq.sum(1)

    with GradientCollector(toy, modules, projector) as col:
        col.set_mask(mask)
        feats, sq = col.backward(losses(toy(ids), mask))
        col.set_mask(torch.ones(1, 3, dtype=torch.bool))
        alone, alone_sq = col.backward(losses(toy(ids[:1, :3]), torch.ones(1, 3, dtype=torch.bool)))
    assert torch.isfinite(feats).all() and torch.isfinite(sq).all()
    assert rel_err(feats[0], alone[0]) < 1e-6 and rel_err(sq[:1], alone_sq) < 1e-6
