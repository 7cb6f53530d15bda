import pytest
import torch

from drift.config import RolloutConfig
from drift.enums import EngineName
from drift.errors import ConfigError
from drift.models.config import ModelConfig
from drift.pipeline.engines import build_engine, hf_device
from drift.rollout.engine import SamplingParams


def test_vllm_needs_an_exported_policy_not_the_untrained_tiny_model():
    with pytest.raises(ConfigError, match=r"rollout\.engine=vllm"):
        build_engine(RolloutConfig(engine=EngineName.vllm), ModelConfig(), "tiny")


def test_hf_engine_runs_where_rollout_device_says(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hf_device(RolloutConfig()) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert hf_device(RolloutConfig()) == torch.device("cuda")
    assert hf_device(RolloutConfig(device="cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"rollout\.device"):
        RolloutConfig(device="gpu0")


@pytest.mark.parametrize("path", ["user_plugins:counting_engine", "user_plugins.CountingEngine"])
def test_build_engine_calls_the_users_factory(path):
    engine = build_engine(RolloutConfig(engine=path), ModelConfig(), "policy-dir")
    params = SamplingParams(0.0, 1.0, 4)
    first = [{"role": "user", "content": "1 2 odd"}]
    second = [*first, {"role": "assistant", "content": "1"}, {"role": "user", "content": "No."}]
    assert engine.generate([first, second], params) == ["<answer>1</answer>", "<answer>2</answer>"]


def test_a_factory_that_builds_no_engine_is_a_config_error():
    rollout = RolloutConfig(engine="user_plugins:builds_no_engine")
    with pytest.raises(ConfigError, match=r"^rollout\.engine=user_plugins:builds_no_engine: obj"):
        build_engine(rollout, ModelConfig(), "policy-dir")
