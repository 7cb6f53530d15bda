import pytest
import torch

from drift.config import RolloutConfig
from drift.enums import EngineName
from drift.errors import ConfigError
from drift.models.config import ModelConfig
from drift.pipeline.engines import build_engine, hf_device


def test_vllm_needs_an_exported_policy_not_the_untrained_tiny_model():
    with pytest.raises(ConfigError, match=r"rollout\.engine=vllm"):
        build_engine(RolloutConfig(engine=EngineName.VLLM), ModelConfig(), "tiny")


def test_hf_engine_runs_where_rollout_device_says(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert hf_device(RolloutConfig()) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert hf_device(RolloutConfig()) == torch.device("cuda")
    assert hf_device(RolloutConfig(device="cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"rollout\.device"):
        RolloutConfig(device="gpu0")
