"""The trained model with its full weights after a sharded fit, on global rank 0.

Under FSDP each rank holds a shard of every parameter and the decoder layers are wrapped in
FSDP units; under DeepSpeed ZeRO-3 each rank holds a partition. After ``trainer.fit`` every rank
calls :func:`full_model` (it gathers collectively); rank 0 gets a plain model (wrappers removed,
full weights, on the CPU when there are several ranks) that ``save_pretrained`` and LoRA merging
handle as usual. Other ranks get their sharded model back: only rank 0 exports. DDP and
single-device runs hold full weights already and are returned unchanged.
"""

from __future__ import annotations

import lightning.pytorch as pl
from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy
from torch import Tensor, nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
from torch.distributed.fsdp import FullyShardedDataParallel


def full_model(trainer: pl.Trainer, module: pl.LightningModule) -> nn.Module:
    """``module.model`` with the full trained weights on global rank 0 (collective call)."""
    strategy = trainer.strategy
    if isinstance(strategy, FSDPStrategy):
        state = _strip(strategy.lightning_module_state_dict(), "model.")  # rank 0 only: full
    elif isinstance(strategy, DeepSpeedStrategy) and strategy.zero_stage_3:
        state = _gather_zero3(module.model, keep=trainer.is_global_zero)
    else:
        return module.model
    if not trainer.is_global_zero:
        return module.model
    model = unwrap(module.model)
    assign(model, state)
    return model


def unwrap(module: nn.Module) -> nn.Module:
    """``module`` with every FSDP unit and activation-checkpoint wrapper replaced, in place, by
    the module it wraps (parameter names are then the original ones)."""
    while (inner := _wrapped(module)) is not None:
        module = inner
    for name, child in list(module.named_children()):
        inner = unwrap(child)
        if inner is not child:
            setattr(module, name, inner)
    return module


def _wrapped(module: nn.Module) -> nn.Module | None:
    if isinstance(module, FullyShardedDataParallel):
        return module.module
    if isinstance(module, CheckpointWrapper):
        return module._checkpoint_wrapped_module
    return None


def assign(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Put ``state``'s tensors in place of ``model``'s parameters and buffers of those names
    (whatever shapes the sharded ones had), then re-tie tied weights.

    Every parameter must be given, under at least one name if it is shared.
    """
    params = dict(model.named_parameters(remove_duplicate=False))
    buffers = dict(model.named_buffers(remove_duplicate=False))
    unknown = sorted(set(state) - set(params) - set(buffers))
    missing = sorted(set(dict(model.named_parameters())) - set(state))
    if unknown or missing:
        raise RuntimeError(
            f"gathered weights do not fit the model: unknown {unknown[:5]}, missing {missing[:5]}"
        )
    for name, value in state.items():
        owner, _, leaf = name.rpartition(".")
        module = model.get_submodule(owner)
        if name in params:
            setattr(module, leaf, nn.Parameter(value, requires_grad=params[name].requires_grad))
        else:
            module._buffers[leaf] = value
    if hasattr(model, "tie_weights"):
        model.tie_weights()


def _strip(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def _gather_zero3(model: nn.Module, keep: bool) -> dict[str, Tensor]:
    """Every ZeRO-3 partitioned parameter gathered in turn; copies kept (on the CPU) if ``keep``."""
    import deepspeed

    state = {}
    for name, param in model.named_parameters():
        with deepspeed.zero.GatheredParameters([param], modifier_rank=None):
            if keep:
                state[name] = param.detach().cpu().clone()
    return state
