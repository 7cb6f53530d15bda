"""Feature-space maps of the study: the same space as the extractor, and LESS's Adam features."""

import pytest
import torch
from attribution.tiny_lm import make_examples  # tests/attribution/tiny_lm.py
from tiny_models import tiny_llama

from drift.attribution.config import FeatureConfig
from drift.attribution.extract import extract_features
from drift.attribution.layers import select_layers
from drift.attribution.precondition import adam_transform
from drift.attribution.reference import per_example_weight_grads
from drift.attribution.scoring_config import AdamForm
from drift.pipeline.attribution_features import AdamFeatures, projection
from drift.training.data import pad_examples
from drift.training.loss import per_example_loss


@pytest.fixture(scope="module")
def model():
    return tiny_llama()


def _examples(lengths: list[int]):
    return make_examples(lengths, seed=1)


@pytest.mark.parametrize("impl", ["hooks", "loop"])
def test_projection_maps_explicit_gradients_into_the_extractor_space(model, tmp_path, impl):
    cfg = FeatureConfig(impl=impl, proj_in=8, proj_out=4, loop_dim=48, batch_size=3)
    examples = _examples([7, 12, 5, 9])
    store = extract_features(model, examples, cfg, tmp_path, pad_id=0, model_name="tiny")
    modules = select_layers(model, cfg.layers)
    grads = per_example_weight_grads(model, pad_examples(examples, 0), modules, per_example_loss)
    mapped = projection(model, cfg, torch.device("cpu"))(grads)
    torch.testing.assert_close(mapped, torch.from_numpy(store.load()), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("form", ["paper", "less_code"])
def test_adam_features_transform_exact_gradients_before_projecting(model, form):
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
    project = projection(model, cfg, torch.device("cpu"))
    featurize = AdamFeatures(model, modules, state, (0.9, 0.999), 1e-8, AdamForm(form), project)
    batch = pad_examples(_examples([6, 11, 8]), 0)
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
