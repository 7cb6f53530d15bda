"""The reference policy: a model built from a config is built once and cached in HF format."""

import logging
import os
from pathlib import Path

import lightning
import pytest
import torch
from transformers import AutoModelForCausalLM

from drift.config import load_config
from drift.pipeline.reference import (
    INTRINSIC_KEEP_FRACTION,
    ensure_reference,
    reference_key,
    warmup_user_turn,
)
from drift.utils.manifest import MANIFEST, check_manifest


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


def _truncate(path, keep=100):
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize(
    ("damage", "mismatch"),
    [
        (lambda d: _truncate(d / "model.safetensors"), "model.safetensors has 100 bytes"),
        (lambda d: (d / MANIFEST).unlink(), "no manifest"),
    ],
)
def test_a_broken_cached_reference_is_named_and_rebuilt(compose_cfg, caplog, damage, mismatch):
    """A truncated weights file (or an entry without its manifest) is never reused: the
    warning names the directory and what differs, and the directory is rebuilt whole."""
    cfg = load_config(compose_cfg(["model.warmup.enabled=false"]))
    lightning.seed_everything(0, verbose=False)
    out = Path(ensure_reference(cfg))
    loaded = AutoModelForCausalLM.from_pretrained(out).state_dict()
    weights = {k: v.clone() for k, v in loaded.items()}  # not views of the file we damage
    damage(out)
    caplog.set_level(logging.WARNING)
    lightning.seed_everything(0, verbose=False)  # the rebuild draws the same weights
    assert ensure_reference(cfg) == str(out)
    (warning,) = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert f"reference policy {out} is broken: {mismatch}" in warning
    assert check_manifest(out, content=True) is None
    again = AutoModelForCausalLM.from_pretrained(out).state_dict()
    assert all(torch.equal(weights[k], again[k]) for k in weights)


def test_the_warm_up_shows_the_protocols_user_turn_and_its_key_says_so(compose_cfg):
    def cfg(*overrides: str):
        return load_config(compose_cfg(list(overrides)))

    oracle = cfg()
    assert warmup_user_turn(oracle) == (oracle.task.feedback, 0.0)
    before_env = reference_key(oracle)
    assert reference_key(cfg("env.instruction=x", "env.shaping_alpha=3")) == before_env  # unused
    intrinsic = cfg("env.protocol=intrinsic", "env.instruction=Check it.")
    assert warmup_user_turn(intrinsic) == ("Check it.", INTRINSIC_KEEP_FRACTION)
    assert reference_key(intrinsic) != before_env
    assert reference_key(cfg("env.protocol=intrinsic", "env.instruction=Other.")) != (
        reference_key(intrinsic)
    )
    shaped = cfg("env.protocol=intrinsic", "env.instruction=Check it.", "env.shaping_alpha=3")
    assert reference_key(shaped) == reference_key(intrinsic)  # the return does not warm up
