"""Weighted causal-LM cross-entropy on supervised (assistant) tokens.

Each example's loss is the mean next-token NLL over its supervised tokens; examples are combined
as ``sum_i w_i * l_i / normalizer``, where the caller picks the normaliser for the whole optimiser
step (the example count for ``mean(w·l)``, the sum of weights for ``Σwl/Σw``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def per_example_loss(logits: Tensor, input_ids: Tensor, loss_mask: Tensor) -> Tensor:
    """Token-mean NLL per example over its supervised tokens.

    ``logits[B, T, V]`` at position t predict ``input_ids[B, T]`` at t + 1; ``loss_mask[B, T]``
    marks the supervised *target* tokens (position 0 is never a target). An example without a
    supervised token gets 0, not NaN. Dense and free of data-dependent shapes, so it also runs
    under ``torch.func.vmap``. Returns ``[B]`` in float32 (or the logits' dtype if wider).
    """
    if logits.shape[:2] != input_ids.shape or input_ids.shape != loss_mask.shape:
        raise ValueError(
            f"shape mismatch: logits {tuple(logits.shape)}, input_ids {tuple(input_ids.shape)}, "
            f"loss_mask {tuple(loss_mask.shape)}"
        )
    pred = logits[:, :-1].float()  # [B, T-1, V]
    target = input_ids[:, 1:]  # [B, T-1]
    mask = loss_mask[:, 1:].bool()  # [B, T-1]
    nll = F.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1), reduction="none")
    nll = torch.where(mask, nll.view_as(target), 0.0)  # [B, T-1]
    count = mask.sum(dim=1).clamp(min=1)  # [B]
    return nll.sum(dim=1) / count


def weighted_sft_loss(
    logits: Tensor,
    input_ids: Tensor,
    loss_mask: Tensor,
    weights: Tensor,
    normalizer: Tensor | float,
) -> Tensor:
    """``sum_i weights[i] * per_example_loss[i] / normalizer`` as a scalar.

    ``normalizer`` belongs to the whole optimiser step (all micro-batches and ranks), so summing
    this value over a step's micro-batches gives the step's objective exactly.
    """
    losses = per_example_loss(logits, input_ids, loss_mask)  # [B]
    return (weights.to(losses.dtype) * losses).sum() / normalizer
