import pytest

from drift.config import ModelConfig, RolloutConfig
from drift.enums import EngineName
from drift.errors import ConfigError
from drift.pipeline.engines import build_engine


def test_vllm_needs_an_exported_policy_not_the_untrained_tiny_model():
    with pytest.raises(ConfigError, match=r"rollout\.engine=vllm"):
        build_engine(RolloutConfig(engine=EngineName.VLLM), ModelConfig(), "tiny")
