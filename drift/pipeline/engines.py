"""Build a generation engine for a policy directory or name, as the rollout config asks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from drift.config import EngineName, RolloutConfig
from drift.errors import ConfigError
from drift.models.config import ModelConfig
from drift.rollout.engine import Engine, require_engine, user_engine_factory


def hf_device(rollout: RolloutConfig) -> torch.device:
    """Where the ``hf`` engine runs: ``rollout.device``, else the GPU when one is visible."""
    if rollout.device is not None:
        return torch.device(rollout.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_engine(rollout: RolloutConfig, model_cfg: ModelConfig, policy: str) -> Engine:
    """An engine over ``policy`` (an HF directory or hub name): ``hf``, ``vllm`` or the one the
    user's factory at a dotted path builds.

    A vLLM engine runs in worker processes: close it (``engine.close()`` or ``with``) when the
    stage ends to free their memory; it is also closed when garbage-collected.
    """
    factory = user_engine_factory(rollout.engine)
    if factory is not None:
        engine = factory(rollout, model_cfg, policy)
        require_engine(rollout.engine, engine)
        return engine
    if rollout.engine == EngineName.hf:
        from drift.models.factory import load_policy
        from drift.rollout.hf_engine import HFEngine

        model, tokenizer = load_policy(model_cfg, path=policy)
        model = model.to(hf_device(rollout))
        return HFEngine(model, tokenizer, batch_size=rollout.batch_size)
    if policy == "tiny":
        raise ConfigError(
            "rollout.engine=vllm needs an exported HF directory, but the policy is the "
            "untrained tiny model (model.name_or_path=tiny with model.warmup.enabled=false)"
        )
    from drift.rollout.vllm_engine import vllm_engine

    return vllm_engine(rollout, model_cfg, policy)


def close_engine(engine: Engine | None) -> None:
    """Free an engine's resources (vLLM worker processes); a no-op for in-process engines."""
    close = getattr(engine, "close", None)
    if close is not None:
        close()


@contextmanager
def open_engine(rollout: RolloutConfig, model_cfg: ModelConfig, policy: str) -> Iterator[Engine]:
    """:func:`build_engine` as a context manager that closes the engine at the end."""
    engine = build_engine(rollout, model_cfg, policy)
    try:
        yield engine
    finally:
        close_engine(engine)
