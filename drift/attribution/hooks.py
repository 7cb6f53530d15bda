"""Batched per-example projected gradients from forward/backward hooks (README, "Data attribution").

For a linear layer with inputs X [T, d_in] and output gradients G [T, d_out], an example's
weight gradient is Gᵀ X; its Kronecker projection is (G P_outᵀ)ᵀ (X P_inᵀ) [k_out, k_in]. The
forward hook keeps X P_inᵀ, a hook on the output tensor receives G and forms the product for the
whole padded batch at once, so no weight gradient is ever computed. The exact squared norm
‖Gᵀ X‖² comes from the Gram identity sum((G Gᵀ) ⊙ (X Xᵀ)), or from Gᵀ X itself when that is
smaller than T².
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from drift.attribution.projection import KroneckerProjector


def exact_sq_norms(g: Tensor, x: Tensor) -> Tensor:
    """Squared Frobenius norms of per-example Gᵀ X: g [B, T, d_out], x [B, T, d_in] -> [B]."""
    t, d_out, d_in = g.shape[1], g.shape[2], x.shape[2]
    if t * t <= d_out * d_in:
        gram_g = torch.einsum("bso,bto->bst", g, g)
        gram_x = torch.einsum("bsi,bti->bst", x, x)
        return (gram_g * gram_x).sum(dim=(1, 2))
    return torch.einsum("bto,bti->boi", g, x).square().sum(dim=(1, 2))


class GradientCollector:
    """Context manager installing the hooks; one :meth:`backward` per batch.

    Usage::

        with GradientCollector(model, modules, projector) as col:
            col.set_mask(attention_mask)              # [B, T], 1 = real token
            losses = per_example_loss(model(...).logits, ...)   # [B]
            features, sq_norms = col.backward(losses)  # [B, dim], [B]

    Each module must run once per forward on inputs [B, T, d_in] (true of decoder blocks in eval
    mode; gradient checkpointing would re-run forwards and is not supported). The input
    embeddings are made to require grad, so frozen models work and only activation gradients
    are computed.
    """

    def __init__(
        self, model: nn.Module, modules: Mapping[str, nn.Linear], projector: KroneckerProjector
    ) -> None:
        if list(modules) != projector.layers:
            raise ValueError("modules and projector must list the same layers in the same order")
        self.model, self.modules, self.projector = model, dict(modules), projector
        self._handles: list[RemovableHandle] = []
        self._mask: Tensor | None = None
        self._reset()

    def _reset(self) -> None:
        self._inputs: dict[str, tuple[Tensor, Tensor]] = {}  # name -> (x, masked x P_inᵀ)
        self._outputs: list[Tensor] = []
        self._features: dict[str, Tensor] = {}
        self._sq_norms: dict[str, Tensor] = {}

    def __enter__(self) -> GradientCollector:
        embed = self.model.get_input_embeddings()
        self._handles.append(embed.register_forward_hook(_require_grad))
        for name, module in self.modules.items():
            self._handles.append(module.register_forward_hook(partial(self._on_forward, name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._mask = None
        self._reset()

    def set_mask(self, attention_mask: Tensor) -> None:
        """Start a batch: ``attention_mask`` [B, T] marks real tokens (padding is dropped)."""
        self._reset()
        self._mask = attention_mask.bool().unsqueeze(-1)

    def _on_forward(self, name: str, module: nn.Module, args: tuple[Any, ...], out: Tensor):
        if self._mask is None:
            raise RuntimeError("GradientCollector.set_mask must be called before each forward")
        if name in self._inputs:
            raise RuntimeError(f"{name} ran twice in one forward; hooks need one call per batch")
        x = args[0]
        if x.dim() != 3 or x.shape[:2] != self._mask.shape[:2]:
            raise ValueError(
                f"{name}: expected inputs [B, T, d_in] matching the mask, got {x.shape}"
            )
        x = x.detach()
        self._inputs[name] = (x, self.projector.project_in(name, x).masked_fill(~self._mask, 0.0))
        out.register_hook(partial(self._on_grad, name))
        self._outputs.append(out)

    def _on_grad(self, name: str, grad: Tensor) -> None:
        x, x_proj = self._inputs.pop(name)
        x = x.float().masked_fill(~self._mask, 0.0)
        g = grad.float().masked_fill(~self._mask, 0.0)
        g_proj = self.projector.project_out(name, g)
        self._features[name] = torch.einsum("btk,btj->bkj", g_proj, x_proj).flatten(1)
        self._sq_norms[name] = exact_sq_norms(g, x)

    def backward(self, losses: Tensor) -> tuple[Tensor, Tensor]:
        """Backpropagate per-example ``losses`` [B]; return features [B, dim] and ‖g‖² [B]."""
        if not self._outputs:
            raise RuntimeError("no hooked module ran: call the model inside the context")
        torch.autograd.grad(losses.sum(), self._outputs, allow_unused=True)
        batch = losses.shape[0]
        parts, sq = [], torch.zeros(batch, device=losses.device)
        for name in self.projector.layers:
            dims = self.projector.layer_dims(name)
            zeros = torch.zeros(batch, dims[0] * dims[1], device=losses.device)
            parts.append(self._features.get(name, zeros))
            sq = sq + self._sq_norms.get(name, torch.zeros_like(sq))
        self._reset()
        return torch.cat(parts, dim=1), sq


def _require_grad(module: nn.Module, args: tuple[Any, ...], out: Tensor) -> None:
    if not out.requires_grad:
        out.requires_grad_(True)
