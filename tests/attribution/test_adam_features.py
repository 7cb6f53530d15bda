"""LESS's Adam features: exact per-example gradients moved by Adam's state, then projected."""

import pytest
import torch
from tiny_lm import make_batch, make_examples
from tiny_models import tiny_llama

from drift.attribution.adam_features import AdamFeatures
from drift.attribution.config import FeatureConfig
from drift.attribution.extract import feature_projection
from drift.attribution.layers import select_layers
from drift.attribution.precondition import adam_transform
from drift.attribution.reference import per_example_weight_grads
from drift.attribution.scoring_config import AdamForm
from drift.training.loss import per_example_loss


@pytest.mark.parametrize("form", ["paper", "less_code"])
def test_adam_features_transform_exact_gradients_before_projecting(form):
    model = tiny_llama()
    cfg = FeatureConfig(proj_in=8, proj_out=4)
    modules = select_layers(model, cfg.layers)
    gen = torch.Generator().manual_seed(2)
    state = {
        name: {
            "exp_avg": 1e-3 * torch.randn(m.weight.shape, generator=gen),
            "exp_avg_sq": 1e-6 * torch.rand(m.weight.shape, generator=gen),
            "step": torch.tensor(7.0),
        }
        for name, m in modules.items()
    }
    project = feature_projection(model, cfg, torch.device("cpu"))
    featurize = AdamFeatures(model, modules, state, (0.9, 0.999), 1e-8, AdamForm(form), project)
    batch = make_batch(make_examples([6, 11, 8], seed=1))
    got = featurize(batch)
    grads = per_example_weight_grads(model, batch, modules, per_example_loss)
    moved = {
        n: adam_transform(
            g, state[n]["exp_avg"], state[n]["exp_avg_sq"], form, (0.9, 0.999), 1e-8, 7
        )
        for n, g in grads.items()
    }
    assert got.shape == (3, project(moved).shape[1])
    torch.testing.assert_close(got, project(moved), rtol=1e-4, atol=1e-5)
