"""Build a generation engine for a policy directory or name, as the rollout config asks."""

from __future__ import annotations

from drift.config import EngineName, ModelConfig, RolloutConfig
from drift.rollout.engine import Engine


def build_engine(rollout: RolloutConfig, model_cfg: ModelConfig, policy: str) -> Engine:
    """An engine over ``policy`` (an HF directory or hub name)."""
    if rollout.engine == EngineName.HF:
        from drift.models.factory import load_policy
        from drift.rollout.hf_engine import HFEngine

        model, tokenizer = load_policy(model_cfg, path=policy)
        return HFEngine(model, tokenizer, batch_size=rollout.batch_size)
    raise NotImplementedError(f"rollout.engine={rollout.engine.value} is not available yet")
