import numpy as np
import pytest
import torch
from tiny_lm import make_batch, make_examples

from drift.attribution.layers import layer_shapes, select_layers
from drift.attribution.loop import loop_features, right_padded_lengths
from drift.attribution.projection import DenseProjector, KroneckerProjector
from drift.attribution.reference import per_example_weight_grads, reference_features
from drift.training.loss import per_example_loss


def test_loop_path_projects_the_flattened_explicit_gradients(lora_model):
    modules = select_layers(lora_model)
    batch = make_batch(make_examples([7, 12, 4], seed=2, empty=(2,)))
    n_params = sum(m.weight.numel() for m in modules.values())
    dense = DenseProjector(n_params, 48, seed=1, chunk_rows=300)
    feats, sq = loop_features(lora_model, batch, modules, dense, per_example_loss)
    grads = per_example_weight_grads(lora_model, batch, modules, per_example_loss)
    flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    assert flat.shape == (3, n_params)
    assert torch.allclose(feats, dense.project(flat), rtol=1e-5, atol=1e-7)
    assert torch.allclose(sq, flat.square().sum(1), rtol=1e-5) and sq[2] == 0
    assert all(p.grad is None for p in lora_model.parameters())


def test_loop_and_hook_paths_estimate_the_same_inner_products(plain_model):
    """Same model, same total dim: both Gram matrices track the exact one."""
    modules = select_layers(plain_model, [r"layers\.\d+\.mlp\.down_proj$"])
    batch = make_batch(make_examples([10, 14, 8, 12, 9, 13], seed=4))
    kron = KroneckerProjector(layer_shapes(modules), k_in=32, k_out=16, seed=0)
    hook_feats, _ = reference_features(plain_model, batch, modules, kron, per_example_loss)
    n_params = sum(m.weight.numel() for m in modules.values())
    loop_feats, _ = loop_features(
        plain_model, batch, modules, DenseProjector(n_params, kron.dim, 0, 1024), per_example_loss
    )
    grads = per_example_weight_grads(plain_model, batch, modules, per_example_loss)
    flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    upper = np.triu_indices(6)
    exact = (flat @ flat.T).numpy()[upper]
    for feats in (hook_feats, loop_feats):
        assert np.corrcoef(exact, (feats @ feats.T).numpy()[upper])[0, 1] > 0.95


def test_right_padding_is_required():
    assert right_padded_lengths(torch.tensor([[1, 1, 0], [1, 1, 1]])) == [2, 3]
    with pytest.raises(ValueError, match="right-padded"):
        right_padded_lengths(torch.tensor([[0, 1, 1]]))
