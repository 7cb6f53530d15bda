"""The reference policy: a model built from a config is built once and cached in HF format."""

import os

import lightning
import torch
from transformers import AutoModelForCausalLM

from drift.config import load_config
from drift.pipeline.reference import ensure_reference


def test_config_built_reference_is_built_once_and_reused(compose_cfg):
    cfg = load_config(compose_cfg(["model.warmup.enabled=false"]))
    lightning.seed_everything(0, verbose=False)
    first = ensure_reference(cfg)
    weights = AutoModelForCausalLM.from_pretrained(first).state_dict()
    stamp = os.stat(os.path.join(first, "config.json")).st_mtime_ns
    lightning.seed_everything(1, verbose=False)  # a rebuild would draw other weights
    assert ensure_reference(cfg) == first
    again = AutoModelForCausalLM.from_pretrained(first).state_dict()
    assert all(torch.equal(weights[k], again[k]) for k in weights)
    assert os.stat(os.path.join(first, "config.json")).st_mtime_ns == stamp
    other_seed = load_config(compose_cfg(["model.warmup.enabled=false", "seed=1"]))
    assert ensure_reference(other_seed) != first
