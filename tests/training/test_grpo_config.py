"""GRPOSettings: defaults from the CPU probe (drift/training/grpo_config.py), checks that name
the key, the YAML of method=grpo."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from drift.errors import ConfigError
from drift.training.grpo_config import GRPOLoss, GRPOSettings, RewardScaling


def test_defaults_follow_the_cpu_probe():
    s = GRPOSettings()
    assert s.loss_type is GRPOLoss.grpo  # dapo collapsed in the CPU probe
    assert s.lr == pytest.approx(5e-4)
    assert s.per_device_train_batch_size % s.num_generations == 0
    assert s.use_cpu is None and s.gradient_checkpointing is False


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"steps": 0}, "method.grpo.steps"),
        ({"lr": 0.0}, "method.grpo.lr"),
        ({"beta": -0.1}, "method.grpo.beta"),
        ({"num_generations": 1, "per_device_train_batch_size": 4}, "method.grpo.num_generations"),
        ({"num_generations": 3}, "method.grpo.per_device_train_batch_size"),
        ({"top_p": 1.5}, "method.grpo.top_p"),
        ({"loss_type": "ppo"}, "method.grpo.loss_type"),
        ({"scale_rewards": "std"}, "method.grpo.scale_rewards"),
    ],
)
def test_bad_values_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        GRPOSettings(**kwargs)


def test_strings_become_enums():
    s = GRPOSettings(loss_type="dapo", scale_rewards="none")
    assert s.loss_type is GRPOLoss.dapo and s.scale_rewards is RewardScaling.none


def test_method_yaml_merges_onto_the_settings(compose_cfg):
    cfg = compose_cfg(["method=grpo", "rollout.max_new_tokens=20"])
    assert cfg.method.name == "grpo" and cfg.method.family == "grpo"
    raw = OmegaConf.to_container(cfg.method.grpo, resolve=True)
    merged = OmegaConf.merge(OmegaConf.structured(GRPOSettings), raw)
    s = OmegaConf.to_object(merged)
    assert isinstance(s, GRPOSettings)
    assert s.loss_type is GRPOLoss.grpo and s.max_completion_length == 20
    assert s.rollout_batch_size == cfg.rollout.batch_size
