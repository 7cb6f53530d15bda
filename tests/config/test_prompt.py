"""rollout.prompt_format, eval.prompt_format and prompt.*: defaults, overrides, refusals."""

import pytest
from config_refusal import refused

from drift.config import PromptConfig, PromptFormat, load_config


def test_plain_is_the_default_and_each_stage_has_its_own_format(compose_cfg):
    cfg = load_config(compose_cfg([]))
    assert cfg.rollout.prompt_format == cfg.eval.prompt_format == PromptFormat.plain
    assert cfg.prompt == PromptConfig()
    cfg = load_config(
        compose_cfg(
            [
                "rollout.prompt_format=drift_full",
                "eval.prompt_format=drift_simple",
                "prompt.think=false",
                "prompt.max_words=200",
            ]
        )
    )
    assert cfg.rollout.prompt_format == PromptFormat.drift_full
    assert cfg.eval.prompt_format == PromptFormat.drift_simple
    assert (cfg.prompt.think, cfg.prompt.max_words) == (False, 200)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["rollout.prompt_format=drift"], r"rollout\.prompt_format"),
        (["prompt.max_words=0"], r"prompt\.max_words"),
        (["prompt.action_sep=''"], r"prompt\.action_sep"),
        (["env.protocol=intrinsic", "rollout.prompt_format=drift_full"], r"rollout\.prompt_format"),
        (["env.protocol=intrinsic", "eval.prompt_format=drift_full"], r"eval\.prompt_format"),
    ],
)
def test_bad_values_name_their_key(compose_cfg, overrides, match):
    with refused(match):
        load_config(compose_cfg(overrides))


def test_simple_mode_goes_with_the_intrinsic_protocol(compose_cfg):
    overrides = ["env.protocol=intrinsic", "rollout.prompt_format=drift_simple"]
    assert load_config(compose_cfg(overrides)).rollout.prompt_format == PromptFormat.drift_simple


def test_the_paper_preset_uses_the_authors_protocol(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=drift_iw_paper"]))
    assert cfg.rollout.prompt_format == PromptFormat.drift_full  # their generation default
    assert cfg.eval.prompt_format == PromptFormat.drift_simple  # their benchmark script's mode
    assert cfg.prompt == PromptConfig(think=True, max_words=400)
    assert (cfg.rollout.temperature, cfg.rollout.top_p, cfg.rollout.max_new_tokens) == (1, 1, 512)
    assert (cfg.eval.greedy, cfg.eval.sampled_samples, cfg.eval.max_new_tokens) == (True, 0, 1024)
    assert (cfg.reward.format_penalty, cfg.reward.repetition_penalty) == (0.1, 0.5)
    same = load_config(
        compose_cfg(["experiment=drift_iw_paper", "rollout.prompt_format=drift_simple"])
    )
    assert same.rollout.prompt_format == same.eval.prompt_format  # the mismatch removed
