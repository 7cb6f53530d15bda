"""The LESS-style baseline: one backward per example, flattened weight gradients, dense projection.

Kept for comparison with the hook path (``attribution.impl=loop``) and as the source of the
explicit per-example gradients that tests check the hooks against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from drift.attribution.projection import DenseProjector

LossFn = Callable[[Tensor, Tensor, Tensor], Tensor]  # (logits, input_ids, loss_mask) -> [B]


@contextmanager
def requiring_grad(params: Sequence[Tensor]) -> Iterator[None]:
    """Make ``params`` require grad inside the block, restoring their flags afterwards."""
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(True)
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def right_padded_lengths(attention_mask: Tensor) -> list[int]:
    """Lengths of the rows of a right-padded mask [B, T]; raise if a row is not 1...1 0...0."""
    lengths = attention_mask.sum(dim=1)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    if not torch.equal(attention_mask.bool(), positions < lengths.unsqueeze(1)):
        raise ValueError("attention_mask must be right-padded (each row 1...1 0...0)")
    return lengths.tolist()


def example_grads(
    model: nn.Module,
    input_ids: Tensor,
    loss_mask: Tensor,
    params: Sequence[Tensor],
    loss_fn: LossFn,
) -> list[Tensor]:
    """Gradients of one example's loss w.r.t. ``params``; ``input_ids``, ``loss_mask`` are [T].

    The example runs alone (batch 1, no padding). ``params`` must require grad.
    """
    ids, mask = input_ids.unsqueeze(0), loss_mask.unsqueeze(0)
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits
    loss = loss_fn(logits, ids, mask)[0]
    return list(torch.autograd.grad(loss, list(params), allow_unused=True, materialize_grads=True))


def loop_features(
    model: nn.Module,
    batch: dict[str, Tensor],
    modules: dict[str, nn.Linear],
    projector: DenseProjector,
    loss_fn: LossFn,
) -> tuple[Tensor, Tensor]:
    """Features [B, out_dim] and exact ‖g‖² [B] of a right-padded batch, one example at a time.

    ``batch`` holds input_ids, attention_mask and loss_mask [B, T]; each example is cut to its
    own length, its weight gradients flattened into one row of [B, n_params], and the rows
    projected together (as LESS does every ``project_interval`` examples).
    """
    weights = [m.weight for m in modules.values()]
    lengths = right_padded_lengths(batch["attention_mask"])
    rows = []
    with requiring_grad(weights):
        for i, length in enumerate(lengths):
            ids, mask = batch["input_ids"][i, :length], batch["loss_mask"][i, :length]
            grads = example_grads(model, ids, mask, weights, loss_fn)
            rows.append(torch.cat([g.detach().float().flatten() for g in grads]))
    flat = torch.stack(rows)
    return projector.project(flat), flat.square().sum(dim=1)
