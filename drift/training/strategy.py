"""Lightning's ``strategy`` argument from ``trainer.strategy`` and its settings.

``fsdp`` builds an ``FSDPStrategy`` that wraps each decoder layer as one FSDP unit;
``deepspeed`` builds a ``DeepSpeedStrategy`` (ZeRO stage from ``trainer.deepspeed``); any other
name (``auto``, ``ddp``, ``deepspeed_stage_3``, ...) is passed to Lightning as it is.
"""

from __future__ import annotations

import importlib.util

import torch
from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy, Strategy
from torch import nn

from drift.config import TrainerConfig
from drift.errors import ConfigError
from drift.training.strategy_config import FSDPSettings


def build_strategy(cfg: TrainerConfig, model: nn.Module | None = None) -> str | Strategy:
    """The strategy for ``cfg``; ``model`` (the module to train) picks FSDP's layer classes."""
    if cfg.strategy == "fsdp":
        if model is None:
            raise ValueError("trainer.strategy=fsdp needs the model to find its layer classes")
        return fsdp_strategy(cfg.fsdp, model, cfg.precision)
    if cfg.strategy == "deepspeed":
        return deepspeed_strategy(cfg)
    return cfg.strategy


def wrap_classes(model: nn.Module, names: list[str]) -> set[type[nn.Module]]:
    """The module classes of ``model`` called ``names``; none given: ``_no_split_modules``."""
    wanted = set(names or getattr(model, "_no_split_modules", None) or [])
    if not wanted:
        raise ConfigError(
            f"trainer.fsdp.wrap_layers: {type(model).__name__} declares no _no_split_modules; "
            "name its decoder layer class (e.g. [LlamaDecoderLayer])"
        )
    found = {type(m) for m in model.modules() if type(m).__name__ in wanted}
    missing = sorted(wanted - {c.__name__ for c in found})
    if missing:
        raise ConfigError(f"trainer.fsdp.wrap_layers: no module of class {missing} in the model")
    return found


def fsdp_strategy(settings: FSDPSettings, model: nn.Module, precision: str) -> FSDPStrategy:
    """Full sharding (or ``settings.sharding_strategy``), one unit per wrapped layer."""
    check_fsdp_precision(model, precision)
    layers = wrap_classes(model, settings.wrap_layers)
    return FSDPStrategy(
        sharding_strategy=settings.sharding_strategy,
        auto_wrap_policy=layers,
        activation_checkpointing_policy=layers if settings.activation_checkpointing else None,
        cpu_offload=settings.cpu_offload,
        state_dict_type=settings.state_dict_type,
    )


def check_fsdp_precision(model: nn.Module, precision: str) -> None:
    """Refuse mixed precision on float32 weights that are tied (shared), e.g. tied embeddings:
    torch's FSDP (2.11, seen on an H100) then fails at the second micro-batch ("attempting to
    assign a gradient with dtype BFloat16 to a tensor with grad_dtype Float")."""
    tied = len(list(model.named_parameters(remove_duplicate=False))) > len(
        list(model.named_parameters())
    )
    fp32 = any(p.dtype == torch.float32 for p in model.parameters())
    if tied and fp32 and precision.endswith("-mixed"):
        raise ConfigError(
            f"trainer.precision={precision} with trainer.strategy=fsdp: torch's FSDP fails on "
            "tied float32 weights with low-precision gradients; set model.dtype=bfloat16 "
            "(as the Qwen presets do) or trainer.precision=32-true"
        )


def deepspeed_strategy(cfg: TrainerConfig) -> DeepSpeedStrategy:
    """ZeRO at ``trainer.deepspeed.stage``; precision comes from ``trainer.precision``."""
    if importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(
            "trainer.strategy=deepspeed needs the deepspeed package (pip install deepspeed)"
        )
    s = cfg.deepspeed
    return DeepSpeedStrategy(
        stage=s.stage,
        offload_optimizer=s.offload_optimizer,
        offload_parameters=s.offload_parameters,
        # Our step sampler has no fixed batch_size for Lightning to read this from.
        logging_batch_size_per_gpu=cfg.micro_batch_size,
    )
