"""The paper presets build every object short of loading weights (a 7B model on the meta device)."""

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

from drift.attribution.layers import layer_shapes, select_layers
from drift.attribution.projection import KroneckerProjector
from drift.config import load_config
from drift.models.factory import apply_lora
from drift.pipeline.attribution import check_methods, study_pool
from drift.pipeline.attribution_warmup import study_trainer, warmup_examples_of

# Qwen2.5-7B-Instruct's shape (config.json on the hub).
QWEN_7B = Qwen2Config(
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    vocab_size=152064,
)


def _lora_model(cfg):
    with torch.device("meta"):
        return apply_lora(Qwen2ForCausalLM(QWEN_7B), cfg.model.lora)


@pytest.mark.parametrize("preset", ["less_paper", "drift_if_paper"])
def test_paper_preset_builds_its_objects(compose_cfg, preset):
    cfg = load_config(compose_cfg([f"experiment={preset}"]))
    assert cfg.model.name_or_path == "Qwen/Qwen2.5-7B-Instruct"
    lora = cfg.model.lora
    assert (lora.r, lora.alpha) == (128, 512)
    assert lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    methods = check_methods(cfg)
    assert "full" in methods and "random" in methods
    model = _lora_model(cfg)
    modules = select_layers(model, cfg.attribution.layers)
    assert len(modules) == 28 * 4 * 2 and all(".lora_" in name for name in modules)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == 28 * 128 * (2 * (3584 + 3584) + 2 * (3584 + 512))
    pool, _ = study_pool(cfg)
    warm = warmup_examples_of(cfg, pool)
    assert len(warm) == round(cfg.study.warmup_fraction * cfg.study.pool_size)
    trainer = study_trainer(cfg, cfg.study.retrain_steps, len(pool.examples))
    assert trainer.accelerator == "gpu" and trainer.accumulate_grad_batches == 16


def test_less_paper_pins_the_paper_setting(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=less_paper"]))
    s = cfg.study
    assert (s.warmup_fraction, s.warmup_epochs, s.checkpoints, s.keep_fraction) == (
        0.05,
        4,
        4,
        0.05,
    )
    less = cfg.methods()["less"].scoring
    assert (less.method.value, less.preconditioner.value, less.debias.value) == (
        "less",
        "adam",
        "cosine",
    )
    assert less.fraction == 0.05 and cfg.methods()["random"].scoring.fraction == 0.05
    assert cfg.attribution.impl.value == "loop" and cfg.attribution.loop_dim == 8192


def test_drift_if_paper_feature_dimension(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=drift_if_paper"]))
    shapes = layer_shapes(select_layers(_lora_model(cfg), cfg.attribution.layers))
    kron = KroneckerProjector(shapes, cfg.attribution.proj_in, cfg.attribution.proj_out, 0)
    assert kron.dim == 224 * 8 * 8
    scoring = cfg.methods()["drift_if"].scoring
    assert (scoring.scheme.value, scoring.debias.value) == ("balanced", "cosine")
