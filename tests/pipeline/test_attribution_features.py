"""Feature-space maps of the study: the same space as the extractor, and LESS's Adam features."""

import dataclasses
from pathlib import Path

import numpy as np
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
from drift.attribution.targets import TargetSet
from drift.config import load_config
from drift.pipeline.attribution_features import AdamFeatures, FeatureBank, projection
from drift.pipeline.attribution_pool import study_pool
from drift.pipeline.attribution_warmup import ensure_warmup
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


STUDY = [
    "experiment=attribution_demo",
    "debug=attribution_fast",
    "study.pool_size=16",
    "study.multi_turn_fraction=0.5",
    "model.warmup.steps=2",
    "study.warmup_steps=2",
    "study.checkpoints=1",
    "trainer.micro_batch_size=8",
    "trainer.effective_batch_size=8",
    "attribution.batch_size=8",
    "attribution.impl=loop",
    "attribution.loop_dim=16",
    "attribution.loop_chunk=512",
]


@pytest.fixture
def study(compose_cfg):
    """A tiny study's config, pool and (cached) warm-up."""
    cfg = load_config(compose_cfg(STUDY))
    pool, pool_key = study_pool(cfg)
    return cfg, pool, ensure_warmup(cfg, pool, pool_key)


def test_less_features_get_a_store_per_loop_dim_and_storage_dtype(study):
    """A sweep over attribution.loop_dim or attribution.dtype shares the warm-up but not the
    Adam-feature store (its key held neither: the second value hit StoreMismatchError)."""
    cfg, pool, warmup = study
    for loop_dim, dtype in [(16, "float32"), (24, "float32"), (24, "float16"), (16, "float32")]:
        cfg.attribution = dataclasses.replace(cfg.attribution, loop_dim=loop_dim, dtype=dtype)
        store = FeatureBank(cfg, warmup, pool.examples).adam_store(warmup.final, AdamForm.PAPER)
        assert (store.dim, store.dtype) == (loop_dim, np.dtype(dtype)) and store.complete
    assert len(list(Path(cfg.paths.cache_dir).glob("features-adam-*"))) == 3


def test_target_features_are_keyed_on_the_loss_mask(study):
    """The same targets with loss on every assistant turn are other features than with loss on
    the final turn (the store key held the tokens but not the loss mask)."""
    cfg, pool, warmup = study
    multi = [ex for ex in pool.examples if sum(m["role"] == "assistant" for m in ex.messages) > 1]
    assert len(multi) >= 2
    bank = FeatureBank(cfg, warmup, pool.examples)
    feats = {}
    for turns in ("final", "all"):
        chosen = [dataclasses.replace(ex, loss_turns=turns) for ex in multi[:2]]
        targets = TargetSet(chosen, np.ones(2), np.arange(2), ["a", "b"])
        feats[turns] = bank.target_features(targets)
    assert not np.allclose(feats["final"], feats["all"])
