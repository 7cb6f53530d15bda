"""Batched per-example projected gradients from forward/backward hooks (README, "Data attribution").

For a linear layer with inputs X [T, d_in] and output gradients G [T, d_out], an example's
weight gradient is Gᵀ X; its Kronecker projection is P_out Gᵀ X P_inᵀ [k_out, k_in]. The forward
hook keeps X (padding rows zeroed), a hook on the output tensor receives G and forms every
example's feature and exact squared norm ‖Gᵀ X‖² for the whole padded batch at once, by the
cheaper of two exact routes (:func:`explicit_route`; a projection that does not factor, such as
the CountSketch, always takes the first):

- explicit: the per-example gradients Gᵀ X [B, d_out, d_in] (one batched matmul), their squared
  sums, then the projection of that small matrix; cheaper for thin layers such as LoRA factors;
- Kronecker: (G P_outᵀ)ᵀ (X P_inᵀ), so no weight gradient is formed, with the norm from the Gram
  identity sum((G Gᵀ) ⊙ (X Xᵀ)); cheaper for wide layers over short sequences.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from drift.attribution.projection import KroneckerProjector, LayerProjector


def explicit_route(t: int, d_out: int, d_in: int, k_out: int, k_in: int) -> bool:
    """Whether forming the gradients Gᵀ X costs fewer multiply-adds per example than the
    Kronecker route at ``t`` tokens (``k`` = ``d`` on a side that is not projected)."""
    proj_in = d_in * k_in if k_in < d_in else 0  # per row projected, nothing if unprojected
    proj_out = d_out * k_out if k_out < d_out else 0
    explicit = t * d_out * d_in + d_out * proj_in + k_in * proj_out
    kronecker = t * (proj_in + proj_out + k_out * k_in) + t * t * (d_out + d_in)
    return explicit <= kronecker


def explicit_features(
    g: Tensor, x: Tensor, projector: LayerProjector, name: str
) -> tuple[Tensor, Tensor]:
    """The layer's part of the features (``projector.project_weight_grad``) and ‖Gᵀ X‖² [B]
    through the per-example gradients:
    g [B, T, d_out], x [B, T, d_in] (float32, padding rows zeroed)."""
    if g.shape[2] >= x.shape[2]:  # the wide side as the product's columns: several times faster
        grad = torch.bmm(x.transpose(1, 2), g).transpose(1, 2)  # [B, d_out, d_in]
    else:
        grad = torch.bmm(g.transpose(1, 2), x)
    sq_norms = torch.linalg.vector_norm(grad, dim=(1, 2)).square()
    return projector.project_weight_grad(name, grad), sq_norms


def kronecker_features(
    g: Tensor, x: Tensor, projector: KroneckerProjector, name: str
) -> tuple[Tensor, Tensor]:
    """Same as :func:`explicit_features` without forming Gᵀ X: (G P_outᵀ)ᵀ (X P_inᵀ), and the
    norm by the Gram identity."""
    g_proj, x_proj = projector.project_out(name, g), projector.project_in(name, x)
    features = torch.bmm(g_proj.transpose(1, 2), x_proj).flatten(1)
    gram = torch.bmm(g, g.transpose(1, 2)).mul_(torch.bmm(x, x.transpose(1, 2)))
    return features, gram.sum(dim=(1, 2))


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
    are computed. Padding rows are zeroed in inputs and gradients alike (either may hold
    garbage or NaN there); modules that share an input tensor (LoRA's q/k/v ``lora_A``) share
    one masked copy.
    """

    def __init__(
        self, model: nn.Module, modules: Mapping[str, nn.Linear], projector: LayerProjector
    ) -> None:
        if list(modules) != projector.layers:
            raise ValueError("modules and projector must list the same layers in the same order")
        self.model, self.modules, self.projector = model, dict(modules), projector
        self._handles: list[RemovableHandle] = []
        self._mask: Tensor | None = None
        self._reset()

    def _reset(self) -> None:
        self._inputs: dict[str, Tensor] = {}  # name -> masked float x
        self._masked: dict[tuple[Any, ...], tuple[Tensor, Tensor]] = {}  # storage -> (x, masked)
        self._outputs: list[Tensor] = []
        self._features: Tensor | None = None  # [B, dim]: the layers' parts added so far
        self._sq_norms: Tensor | None = None  # [B]

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
        self._mask = attention_mask.bool()
        self._pad_rows = (~self._mask).flatten().nonzero().squeeze(1)

    def _masked_float(self, t: Tensor) -> Tensor:
        """A contiguous float32 copy of ``t`` [B, T, d] with padding rows zeroed (a row fill:
        far cheaper on CPU than ``masked_fill`` with a broadcast mask)."""
        out = torch.empty(t.shape, dtype=torch.float32, device=t.device).copy_(t)
        out.view(-1, t.shape[-1]).index_fill_(0, self._pad_rows, 0.0)
        return out

    def _on_forward(self, name: str, module: nn.Module, args: tuple[Any, ...], out: Tensor):
        if self._mask is None:
            raise RuntimeError("GradientCollector.set_mask must be called before each forward")
        if name in self._inputs:
            raise RuntimeError(f"{name} ran twice in one forward; hooks need one call per batch")
        x = args[0]
        if x.dim() != 3 or x.shape[:2] != self._mask.shape:
            raise ValueError(
                f"{name}: expected inputs [B, T, d_in] matching the mask, got {x.shape}"
            )
        x = x.detach()
        key = (x.data_ptr(), x.shape, x.stride(), x.dtype)  # x stays referenced: key unique
        if key not in self._masked:
            self._masked[key] = (x, self._masked_float(x))
        self._inputs[name] = self._masked[key][1]
        out.register_hook(partial(self._on_grad, name))
        self._outputs.append(out)

    def _on_grad(self, name: str, grad: Tensor) -> None:
        x, g = self._inputs.pop(name), self._masked_float(grad)
        k_out, k_in = self.projector.layer_dims(name)
        d_out, d_in = self.projector.shapes[name]
        explicit = not isinstance(self.projector, KroneckerProjector) or explicit_route(
            g.shape[1], d_out, d_in, k_out, k_in
        )
        route = explicit_features if explicit else kronecker_features
        part, sq_norms = route(g, x, self.projector, name)
        if self._features is None or self._sq_norms is None:
            self._features = torch.zeros(g.shape[0], self.projector.dim, device=g.device)
            self._sq_norms = torch.zeros(g.shape[0], device=g.device)
        self.projector.add_part(self._features, name, part)  # at once: parts can be [B, dim]
        self._sq_norms += sq_norms

    def backward(self, losses: Tensor) -> tuple[Tensor, Tensor]:
        """Backpropagate per-example ``losses`` [B]; return features [B, dim] and ‖g‖² [B]."""
        if not self._outputs:
            raise RuntimeError("no hooked module ran: call the model inside the context")
        torch.autograd.grad(losses.sum(), self._outputs, allow_unused=True)
        batch = losses.shape[0]
        features, sq = self._features, self._sq_norms  # a layer without gradient added nothing
        if features is None or sq is None:
            features = torch.zeros(batch, self.projector.dim, device=losses.device)
            sq = torch.zeros(batch, device=losses.device)
        self._reset()
        return features, sq


def _require_grad(module: nn.Module, args: tuple[Any, ...], out: Tensor) -> None:
    if not out.requires_grad:
        out.requires_grad_(True)
