"""The real-model presets: experiment=smollm_attribution keeps every method, the LoRA adapter
and the arithmetic pool's planted kinds; experiment=smollm_iw gives GRPO the episodes of two
DRIFT-IW rounds; experiment=smollm_intrinsic takes smollm_iw's task, model and sizes under the
intrinsic protocol. (The attribution study's end-to-end run on SmolLM2 took longer than the suite
allows on 2 loaded cores; the README records the measured full-size runs.)"""

import dataclasses

import pytest
from real_models import needs_smollm

from drift.config import EnvConfig, Protocol, load_config
from drift.pipeline.attribution import check_methods

pytestmark = needs_smollm


def test_preset_keeps_every_method_and_the_lora_adapter(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=smollm_attribution"]))
    methods = check_methods(cfg)
    assert set(methods) == {
        "full",
        "random",
        "drift_if",
        "less",
        "prism",
        "grad_sim",
        "cg_if",
        "perplexity",
        "embedding",
    }
    assert cfg.model.lora is not None and cfg.task.max_turns == 1
    assert cfg.model.gguf_file is not None and cfg.task.answer_format == "last_number"
    assert sum(cfg.study.corruption.values()) == pytest.approx(0.4)


def test_smollm_iw_gives_grpo_the_episodes_of_two_drift_iw_rounds(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=smollm_iw"]))
    methods = cfg.methods()
    assert list(methods) == [
        "reference",
        "uniform_sft",
        "rft",
        "drift_iw",
        "drift_iw_k2",
        "drift_iw_if",
        "grpo",
    ]
    grpo = methods["grpo"].grpo
    offline_episodes = methods["drift_iw_k2"].rounds * cfg.task.num_train * cfg.rollout.num_samples
    assert grpo.steps * grpo.per_device_train_batch_size == offline_episodes
    assert grpo.temperature == cfg.rollout.temperature == cfg.eval.temperature
    assert cfg.model.gguf_file is not None and cfg.task.answer_format == "last_number"


def test_smollm_intrinsic_takes_smollm_iw_sizes_and_budgets_score_like_grpo(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=smollm_intrinsic"]))
    iw = load_config(compose_cfg(["experiment=smollm_iw"]))
    methods = cfg.methods()
    assert list(methods) == ["reference", "uniform_sft", "rft", "drift_iw", "grpo", "score"]
    assert cfg.env == dataclasses.replace(EnvConfig(), protocol=Protocol.intrinsic)
    assert cfg.task == dataclasses.replace(iw.task, max_turns=2)
    assert (cfg.model, cfg.rollout, cfg.trainer, cfg.eval) == (
        iw.model,
        iw.rollout,
        iw.trainer,
        iw.eval,
    )
    grpo, score = methods["grpo"].grpo, methods["score"].grpo
    assert grpo == iw.methods()["grpo"].grpo  # smollm_iw's online budget
    budget = ("steps", "num_generations", "per_device_train_batch_size", "lr", "temperature")
    assert [getattr(score, k) for k in budget] == [getattr(grpo, k) for k in budget]
    alone = ["method=score", "env.protocol=intrinsic", "task.max_turns=2"]
    own = load_config(compose_cfg(alone)).method
    assert (score.beta, methods["score"].score.beta2) == (own.grpo.beta, own.score.beta2)  # KL
    assert 2 * methods["score"].score.stage1_steps == score.steps


def test_debug_fast_lets_rft_step_on_one_right_second_attempt_of_smollm_intrinsic(compose_cfg):
    """conf/debug/preset/fast_smollm_intrinsic.yaml: one micro-batch per step and 8 samples."""
    cfg = load_config(compose_cfg(["experiment=smollm_intrinsic", "debug=fast"]))
    assert cfg.trainer.micro_batch_size == cfg.trainer.effective_batch_size == 8
    assert cfg.rollout.num_samples == 8
    assert (cfg.task.num_train, cfg.trainer.max_steps) == (8, 2)  # 8: debug=fast's
    iw = load_config(compose_cfg(["experiment=smollm_iw", "debug=fast"]))
    assert (iw.trainer.micro_batch_size, iw.rollout.num_samples) == (4, 4)  # no preset file


@pytest.mark.parametrize(
    ("overrides", "methods"),
    [
        (["experiment=smollm_iw"], 7),
        (["experiment=smollm_intrinsic"], 6),
        (["experiment=drift_iw_paper", "model=smollm2-135m-instruct", "task=arithmetic"], 1),
    ],
)
def test_debug_fast_on_smollm_runs_in_minutes_on_the_hf_engine(compose_cfg, overrides, methods):
    """debug=fast takes each preset's conf/debug/preset/fast_<experiment>.yaml: the HF engine, 8
    test problems, two optimiser steps; drift_iw_paper keeps its formats in float32."""
    cfg = load_config(compose_cfg([*overrides, "debug=fast"]))
    assert len(cfg.methods()) == methods
    assert cfg.rollout.engine == "hf" and cfg.task.num_test == 8 and cfg.trainer.max_steps == 2
    if "experiment=drift_iw_paper" in overrides:
        assert (cfg.rollout.prompt_format, cfg.eval.prompt_format) == ("drift_full", "drift_simple")
        assert cfg.trainer.precision == "32-true" and cfg.trainer.accelerator == "auto"
        assert cfg.eval.sampled_samples == 0 and cfg.rollout.max_new_tokens == 96


def test_debug_attribution_fast_on_smollm_keeps_every_scorer_at_smaller_sizes(compose_cfg):
    """conf/debug/preset/attribution_fast_smollm_attribution.yaml shrinks the pool, queries and
    test split below debug=attribution_fast's, keeping every method and the planted kinds."""
    cfg = load_config(compose_cfg(["experiment=smollm_attribution", "debug=attribution_fast"]))
    tiny = load_config(compose_cfg(["experiment=attribution_demo", "debug=attribution_fast"]))
    assert len(check_methods(cfg)) == 9
    assert (cfg.study.pool_size, cfg.study.num_queries, cfg.task.num_test) == (32, 4, 8)
    assert tiny.study.pool_size == 64  # the tiny model keeps the option's sizes
    assert sum(cfg.study.corruption.values()) == pytest.approx(0.4)
