"""Random projections of weight gradients, regenerated from a seed.

Every projection P here is unbiased for inner products, E[<Pa, Pb>] = <a, b>:

- :class:`KroneckerProjector`: per layer, Gaussian P_in [k_in, d_in] and P_out [k_out, d_out]
  (variance 1/k per entry); a weight gradient grad_W [d_out, d_in] maps to vec(P_out grad_W
  P_inᵀ) [k_out * k_in], which hooks compute as (G P_outᵀ)ᵀ (X P_inᵀ) without forming grad_W
  (README, "Data attribution").
- :class:`SketchProjector`: one CountSketch of the whole gradient (all layers' vec(grad_W))
  into the Kronecker projector's total dim, each coordinate added with a random sign to one
  random bucket: a sparse Johnson-Lindenstrauss map whose error, like a dense projection's, is
  relative to the whole gradient, where per-layer blocks fix each layer's share of the dims
  whatever its share of the norm. It needs grad_W itself.
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


def projected_dim(shapes: Mapping[str, tuple[int, int]], k_in: int, k_out: int) -> int:
    """Feature dim of a :class:`LayerProjector`: sum over layers of min(k_out, d_out) *
    min(k_in, d_in); also the loop's default dim."""
    return sum(min(k_out, d_out) * min(k_in, d_in) for d_out, d_in in shapes.values())


class LayerProjector(ABC):
    """A projection of per-layer weight gradients into sum over layers of k_out * k_in dims
    (a side with k >= d is kept): each layer gives a part, :meth:`add_part` adds it in."""

    def __init__(
        self,
        shapes: Mapping[str, tuple[int, int]],
        k_in: int,
        k_out: int,
        seed: int,
        device: torch.device | str = "cpu",
    ) -> None:
        self.shapes = dict(shapes)
        self.k_in, self.k_out, self.seed = k_in, k_out, seed
        widths = [math.prod(self.layer_dims(n)) for n in self.shapes]
        starts = [sum(widths[:i]) for i in range(len(widths))]
        self._offsets = dict(zip(self.shapes, starts, strict=True))
        self._build(device)

    @abstractmethod
    def _build(self, device: torch.device | str) -> None:
        """Generate the seeded random maps on ``device``."""

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
        return projected_dim(self.shapes, self.k_in, self.k_out)

    @abstractmethod
    def project_weight_grad(self, name: str, grad_w: Tensor) -> Tensor:
        """A layer's part of the features: weight gradients [..., d_out, d_in] -> [..., w]
        (float32), added into the features by :meth:`add_part`."""

    def add_part(self, features: Tensor, name: str, part: Tensor) -> None:
        """Add a layer's part into ``features`` [..., dim] in place: its own block of
        k_out * k_in columns."""
        start = self._offsets[name]
        features[..., start : start + part.shape[-1]] += part

    def project_grads(self, grads: Mapping[str, Tensor]) -> Tensor:
        """Every layer's [..., d_out, d_in] -> the features [..., dim]."""
        first = grads[self.layers[0]]
        features = torch.zeros(*first.shape[:-2], self.dim, device=first.device)
        for name in self.shapes:
            self.add_part(features, name, self.project_weight_grad(name, grads[name]))
        return features


class KroneckerProjector(LayerProjector):
    """Per-layer Kronecker projection; a side whose k >= d is left unprojected."""

    def _build(self, device: torch.device | str) -> None:
        self._p_in: dict[str, Tensor | None] = {}
        self._p_out: dict[str, Tensor | None] = {}
        for name, (d_out, d_in) in self.shapes.items():
            self._p_in[name] = self._matrix(self.k_in, d_in, name, "in", device)
            self._p_out[name] = self._matrix(self.k_out, d_out, name, "out", device)

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
    """One CountSketch of the whole gradient (every layer's flattened weight gradient, in layer
    order) into the Kronecker projector's total dim: a layer's part is that layer's coordinates
    added, each with a random sign, to random buckets of the shared feature vector, and the
    features are the sum of the parts. The error is then relative to the whole gradient's norm,
    as for a dense projection (LESS), not to each layer's at a fixed per-layer budget. With
    nothing to project (every layer's k covers d) it is the identity."""

    def _build(self, device: torch.device | str) -> None:
        total = sum(d_out * d_in for d_out, d_in in self.shapes.values())
        self._sketch: dict[str, tuple[Tensor, Tensor]] = {}
        offset = 0
        for name, (d_out, d_in) in self.shapes.items():
            n = d_out * d_in
            if self.dim == total:  # identity: each coordinate its own bucket
                buckets, signs = torch.arange(offset, offset + n), torch.ones(n)
            else:
                gen = torch.Generator(device="cpu").manual_seed(_seed(self.seed, name, "sketch"))
                buckets = torch.randint(self.dim, (n,), generator=gen)
                signs = torch.randint(2, (n,), generator=gen).float().mul_(2).sub_(1)
            # 5 bytes per coordinate held (int32 bucket, int8 sign): the same draws as int64/float
            self._sketch[name] = (
                buckets.to(device, torch.int32),
                signs.to(device, torch.int8),
            )
            offset += n

    def project_weight_grad(self, name: str, grad_w: Tensor) -> Tensor:
        """A layer's part: weight gradients [..., d_out, d_in] -> [..., dim] (float32)."""
        flat = grad_w.float().flatten(-2)
        buckets, signs = self._sketch[name]
        rows = flat.reshape(-1, flat.shape[-1]) * signs  # int8 signs promote to float32
        out = torch.zeros(rows.shape[0], self.dim, device=rows.device)
        return out.index_add_(1, buckets, rows).reshape(*flat.shape[:-1], self.dim)

    def add_part(self, features: Tensor, name: str, part: Tensor) -> None:
        """Add a layer's part (it spans every column) into ``features`` [..., dim] in place."""
        features += part


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
