"""Random projections of weight gradients, regenerated from a seed.

Every projection P here is unbiased for inner products, E[<Pa, Pb>] = <a, b>:

- :class:`KroneckerProjector`: per layer, Gaussian P_in [k_in, d_in] and P_out [k_out, d_out]
  (variance 1/k per entry); a weight gradient grad_W [d_out, d_in] maps to vec(P_out grad_W
  P_inᵀ) [k_out * k_in], which hooks compute as (G P_outᵀ)ᵀ (X P_inᵀ) without forming grad_W
  (README, "Data attribution").
- :class:`SketchProjector`: per layer, a CountSketch of vec(grad_W) into the same k_out * k_in
  dims (each coordinate added with a random sign to one random bucket): a sparse
  Johnson-Lindenstrauss map whose error is that of a dense Gaussian projection of that size,
  where the Kronecker product of two Gaussians has heavier tails. It needs grad_W itself.
- :class:`DenseProjector`: one Gaussian [n, k] matrix for a flattened gradient (LESS),
  generated block by block so that it never exists whole in memory.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping

import torch
from torch import Tensor


def _seed(*parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _gaussian(rows: int, cols: int, scale_dim: int, seed: int) -> Tensor:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(rows, cols, generator=gen, dtype=torch.float32) / math.sqrt(scale_dim)


class LayerProjector(ABC):
    """Per-layer projection into k_out * k_in dims per layer (a side with k >= d is kept)."""

    def __init__(self, shapes: Mapping[str, tuple[int, int]], k_in: int, k_out: int, seed: int):
        self.shapes = dict(shapes)
        self.k_in, self.k_out, self.seed = k_in, k_out, seed

    @property
    def layers(self) -> list[str]:
        """Layer names in feature order."""
        return list(self.shapes)

    def layer_dims(self, name: str) -> tuple[int, int]:
        """``(k_out, k_in)`` actually used for a layer."""
        d_out, d_in = self.shapes[name]
        return min(self.k_out, d_out), min(self.k_in, d_in)

    @property
    def dim(self) -> int:
        """Total feature dimension: sum over layers of k_out * k_in."""
        return sum(math.prod(self.layer_dims(n)) for n in self.shapes)

    @abstractmethod
    def project_weight_grad(self, name: str, grad_w: Tensor) -> Tensor:
        """Weight gradients [..., d_out, d_in] -> [..., k_out * k_in] (float32)."""

    def project_grads(self, grads: Mapping[str, Tensor]) -> Tensor:
        """Concatenate the projections of every layer's [..., d_out, d_in] -> [..., dim]."""
        return torch.cat([self.project_weight_grad(n, grads[n]) for n in self.shapes], dim=-1)


class KroneckerProjector(LayerProjector):
    """Per-layer Kronecker projection; a side whose k >= d is left unprojected."""

    def __init__(
        self,
        shapes: Mapping[str, tuple[int, int]],
        k_in: int,
        k_out: int,
        seed: int,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(shapes, k_in, k_out, seed)
        self._p_in: dict[str, Tensor | None] = {}
        self._p_out: dict[str, Tensor | None] = {}
        for name, (d_out, d_in) in self.shapes.items():
            self._p_in[name] = self._matrix(k_in, d_in, name, "in", device)
            self._p_out[name] = self._matrix(k_out, d_out, name, "out", device)

    def _matrix(self, k: int, d: int, name: str, side: str, device: torch.device | str):
        if k >= d:
            return None
        return _gaussian(k, d, k, _seed(self.seed, name, side)).to(device)

    def project_in(self, name: str, x: Tensor) -> Tensor:
        """Layer inputs [..., d_in] -> [..., k_in] (float32)."""
        p = self._p_in[name]
        return x.float() if p is None else x.float() @ p.T

    def project_out(self, name: str, g: Tensor) -> Tensor:
        """Output gradients [..., d_out] -> [..., k_out] (float32)."""
        p = self._p_out[name]
        return g.float() if p is None else g.float() @ p.T

    def project_weight_grad(self, name: str, grad_w: Tensor) -> Tensor:
        """Weight gradients [..., d_out, d_in] -> [..., k_out * k_in] (float32)."""
        left = self.project_out(name, grad_w.float().transpose(-1, -2))  # [..., d_in, k_out]
        out = self.project_in(name, left.transpose(-1, -2))  # [..., k_out, k_in]
        return out.flatten(-2)


class SketchProjector(LayerProjector):
    """Per-layer CountSketch of the flattened weight gradient into k_out * k_in buckets (the
    Kronecker projector's layout and size); a layer with no side projected is kept whole."""

    def __init__(
        self,
        shapes: Mapping[str, tuple[int, int]],
        k_in: int,
        k_out: int,
        seed: int,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(shapes, k_in, k_out, seed)
        self._sketch: dict[str, tuple[Tensor, Tensor] | None] = {}
        for name, (d_out, d_in) in self.shapes.items():
            k = math.prod(self.layer_dims(name))
            if k >= d_out * d_in:
                self._sketch[name] = None
                continue
            gen = torch.Generator(device="cpu").manual_seed(_seed(seed, name, "sketch"))
            buckets = torch.randint(k, (d_out * d_in,), generator=gen)
            signs = torch.randint(2, (d_out * d_in,), generator=gen).float().mul_(2).sub_(1)
            self._sketch[name] = (buckets.to(device), signs.to(device))

    def project_weight_grad(self, name: str, grad_w: Tensor) -> Tensor:
        """Weight gradients [..., d_out, d_in] -> [..., k_out * k_in] (float32)."""
        flat = grad_w.float().flatten(-2)
        sketch = self._sketch[name]
        if sketch is None:
            return flat
        buckets, signs = sketch
        rows = flat.reshape(-1, flat.shape[-1]) * signs
        out = torch.zeros(rows.shape[0], math.prod(self.layer_dims(name)), device=rows.device)
        return out.index_add_(1, buckets, rows).reshape(*flat.shape[:-1], -1)


class DenseProjector:
    """Flattened gradients [B, in_dim] -> [B, out_dim] by a Gaussian matrix built in blocks."""

    def __init__(self, in_dim: int, out_dim: int, seed: int, chunk_rows: int) -> None:
        self.in_dim, self.out_dim, self.seed, self.chunk_rows = in_dim, out_dim, seed, chunk_rows

    def blocks(self, device: torch.device | str = "cpu") -> Iterator[tuple[int, Tensor]]:
        """Yield ``(first_row, block [<= chunk_rows, out_dim])``, regenerated from the seed."""
        for index, start in enumerate(range(0, self.in_dim, self.chunk_rows)):
            rows = min(self.chunk_rows, self.in_dim - start)
            block = _gaussian(rows, self.out_dim, self.out_dim, _seed(self.seed, "dense", index))
            yield start, block.to(device)

    def project(self, flat: Tensor) -> Tensor:
        """[B, in_dim] -> [B, out_dim] (float32)."""
        if flat.shape[-1] != self.in_dim:
            raise ValueError(f"expected [B, {self.in_dim}] gradients, got {tuple(flat.shape)}")
        out = torch.zeros(flat.shape[0], self.out_dim, device=flat.device)
        for start, block in self.blocks(flat.device):
            out += flat[:, start : start + block.shape[0]].float() @ block
        return out
