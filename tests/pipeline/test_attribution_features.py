"""The study's feature bank: stores keyed on what shapes them."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from drift.attribution.scoring_config import AdamForm
from drift.attribution.targets import TargetSet
from drift.config import load_config
from drift.pipeline.attribution_features import FeatureBank
from drift.pipeline.attribution_pool import study_pool
from drift.pipeline.attribution_warmup import ensure_warmup

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
        store = FeatureBank(cfg, warmup, pool.examples).adam_store(warmup.final, AdamForm.paper)
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


def test_pool_and_targets_are_cut_as_the_trainer_cuts(study):
    """trainer.truncation=left keeps an example's last tokens (its final answer and loss) in the
    features' encoding, as in training; the default keeps the first ones."""
    cfg, pool, warmup = study
    full = FeatureBank(cfg, warmup, pool.examples)
    longest = int(np.argmax(full.pool.lengths))
    whole = full.pool[longest].input_ids
    budget = len(whole) - 3
    cfg.trainer = dataclasses.replace(cfg.trainer, max_length=budget, truncation="left")
    left = FeatureBank(cfg, warmup, pool.examples)
    assert list(left.pool[longest].input_ids) == list(whole[-budget:])
    assert list(left.encode([pool.examples[longest]])[0].input_ids) == list(whole[-budget:])
    cfg.trainer = dataclasses.replace(cfg.trainer, truncation="right")
    right = FeatureBank(cfg, warmup, pool.examples)
    assert list(right.pool[longest].input_ids) == list(whole[:budget])
