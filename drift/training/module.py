"""The one LightningModule every method trains with: weighted SFT of a Hugging Face causal LM."""

from __future__ import annotations

from dataclasses import asdict
from enum import Enum
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import FSDPStrategy
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR
from transformers import get_scheduler

from drift.config import Schedule, TrainerConfig
from drift.training.loss import weighted_sft_loss

HF_SCHEDULES = {
    Schedule.constant: "constant_with_warmup",
    Schedule.linear: "linear",
    Schedule.cosine: "cosine",
}
"""``trainer.schedule`` -> the name ``transformers.get_scheduler`` knows it by."""


def lr_scheduler(
    optimizer: torch.optim.Optimizer, schedule: Schedule, total_steps: int, warmup_steps: int
) -> LambdaLR:
    """transformers' schedule for ``total_steps`` optimiser steps, stepped once per step.

    Linear warm-up from 0 over ``warmup_steps`` (step s at s / warmup_steps, so with warm-up the
    first step has rate 0, as in the HF Trainer that the DRIFT and LESS authors train with), then
    constant, linear decay to 0 or cosine decay to 0 at ``total_steps``.
    """
    return get_scheduler(
        HF_SCHEDULES[Schedule(schedule)],
        optimizer,
        num_warmup_steps=warmup_steps,
        num_training_steps=total_steps,
    )


WRAPPER_PARTS = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")
"""Name segments that FSDP units and activation checkpointing insert into parameter names."""


def matrix_names(model: nn.Module) -> frozenset[str]:
    """Names of ``model``'s parameters with 2 or more dimensions (wrapper segments removed)."""
    return frozenset(_clean(n) for n, p in model.named_parameters() if p.ndim >= 2)


def _clean(name: str) -> str:
    for part in WRAPPER_PARTS:
        name = name.replace(part, "")
    return name


def decay_groups(
    model: nn.Module, weight_decay: float, matrices: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    """AdamW parameter groups: decay on matrices, none on biases and norm scales (1-D).

    ``matrices`` (from :func:`matrix_names` before wrapping) says which parameters are
    matrices when their shapes no longer do: FSDP flattens its shards to 1-D.
    """
    matrices = matrix_names(model) if matrices is None else matrices
    params = [(_clean(n), p) for n, p in model.named_parameters() if p.requires_grad]
    return [
        {"params": [p for n, p in params if n in matrices], "weight_decay": weight_decay},
        {"params": [p for n, p in params if n not in matrices], "weight_decay": 0.0},
    ]


def _plain(config: TrainerConfig) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in asdict(config).items()}


class WeightedSFTModule(pl.LightningModule):
    """Weighted SFT of ``model`` (a HF causal LM returning ``.logits``).

    Batches come from :func:`drift.training.data.collate`. ``training_step`` returns
    ``weighted_sft_loss * accumulate_grad_batches * world_size``: Lightning divides the returned
    loss by ``accumulate_grad_batches`` and DDP (FSDP, DeepSpeed) averages gradients over ranks,
    so the optimiser sees the gradient of ``sum_{global step} w_i l_i / normalizer`` whatever the
    micro-batch size, accumulation or device count. DeepSpeed divides by its accumulation steps
    once more in its own backward, so under DeepSpeed the loss is multiplied by
    ``accumulate_grad_batches`` again. ``last_loss`` holds that objective for the latest step.
    """

    def __init__(self, model: nn.Module, config: TrainerConfig) -> None:
        super().__init__()
        self.model = model
        self.config = config
        self.save_hyperparameters({"trainer": _plain(config)})
        self._matrices = matrix_names(model)
        self.last_loss = float("nan")
        self._step_loss: Tensor | None = None
        self._step_parts = 0  # micro-batches of the current optimiser step seen so far

    def on_fit_start(self) -> None:
        """HF models load in eval mode; train in train mode (dropout on where configured)."""
        self.model.train()

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits ``[B, T, V]`` for right-padded ``input_ids`` and ``attention_mask`` ``[B, T]``."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self(batch["input_ids"], batch["attention_mask"])
        loss = weighted_sft_loss(
            logits, batch["input_ids"], batch["loss_mask"], batch["weights"], batch["normalizer"]
        )
        part = loss.detach()
        self._step_loss = part if self._step_loss is None else self._step_loss + part
        self._step_parts += 1
        return loss * self._loss_scale()

    def _loss_scale(self) -> int:
        """What the returned loss is multiplied by (see the class docstring)."""
        trainer = self.trainer
        scale = trainer.accumulate_grad_batches * trainer.world_size
        if trainer.strategy.handles_gradient_accumulation:  # DeepSpeed's engine.backward
            scale *= trainer.accumulate_grad_batches
        return scale

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip by the global norm; under FSDP with the root unit's ``clip_grad_norm_`` (each
        rank holds a shard, so torch's ``clip_grad_norm_`` would see a partial norm)."""
        if gradient_clip_val and isinstance(self.trainer.strategy, FSDPStrategy):
            self.trainer.model.clip_grad_norm_(gradient_clip_val)
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Once per optimiser step, after the last micro-batch: log the step's objective.

        DeepSpeed calls this after every micro-batch (its engine decides when to step); every
        step has exactly ``accumulate_grad_batches`` micro-batches (the step sampler's rule).
        """
        if self._step_loss is None or self._step_parts < self.trainer.accumulate_grad_batches:
            return
        total = self.trainer.strategy.reduce(self._step_loss, reduce_op="sum")
        self._step_loss, self._step_parts = None, 0
        self.last_loss = float(total)
        self.log("train/loss", total, on_step=True, prog_bar=True, batch_size=1)
        self.log("train/lr", optimizer.param_groups[0]["lr"], on_step=True, batch_size=1)

    def configure_optimizers(self) -> dict[str, Any]:
        cfg = self.config
        groups = decay_groups(self.model, cfg.weight_decay, self._matrices)
        optimizer = torch.optim.AdamW(groups, lr=cfg.lr)
        total = int(self.trainer.estimated_stepping_batches)
        warmup = int(cfg.warmup_ratio * total)
        scheduler = lr_scheduler(optimizer, cfg.schedule, total, warmup)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
