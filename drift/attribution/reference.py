"""Explicit per-example gradients, one backward each: the ground truth the fast paths match."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from drift.attribution.loop import LossFn, example_grads, requiring_grad, right_padded_lengths
from drift.attribution.projection import LayerProjector


def per_example_weight_grads(
    model: nn.Module, batch: dict[str, Tensor], modules: dict[str, nn.Linear], loss_fn: LossFn
) -> dict[str, Tensor]:
    """``name -> [B, d_out, d_in]`` weight gradients of each example's loss, computed alone.

    ``batch`` holds right-padded input_ids, attention_mask and loss_mask [B, T].
    """
    weights = [m.weight for m in modules.values()]
    per_example = []
    with requiring_grad(weights):
        for i, length in enumerate(right_padded_lengths(batch["attention_mask"])):
            ids, mask = batch["input_ids"][i, :length], batch["loss_mask"][i, :length]
            per_example.append(
                [g.detach().float() for g in example_grads(model, ids, mask, weights, loss_fn)]
            )
    return {name: torch.stack([g[j] for g in per_example]) for j, name in enumerate(modules)}


def reference_features(
    model: nn.Module,
    batch: dict[str, Tensor],
    modules: dict[str, nn.Linear],
    projector: LayerProjector,
    loss_fn: LossFn,
) -> tuple[Tensor, Tensor]:
    """Explicit gradients projected by ``projector`` [B, dim] and their exact squared norms [B]."""
    grads = per_example_weight_grads(model, batch, modules, loss_fn)
    sq_norms = sum(g.square().sum(dim=(1, 2)) for g in grads.values())
    return projector.project_grads(grads), sq_norms
