"""Settings of per-example gradient feature extraction (the ``attribution`` config group)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum

from drift.errors import ConfigError, require_choice, require_positive

# Choices: lower-case names as written in YAML (OmegaConf matches names), upper-case aliases.


class FeatureImpl(str, Enum):
    """How features are computed: batched hooks (fast) or LESS's batch-1 loop (baseline)."""

    hooks = "hooks"
    loop = "loop"


class ProjectionKind(str, Enum):
    """How the hook path projects each layer's gradient (README, "Data attribution")."""

    kronecker = "kronecker"
    sketch = "sketch"


class StorageDType(str, Enum):
    """Storage precision of feature shards; computation is always float32."""

    float16 = "float16"
    float32 = "float32"


@dataclass
class FeatureConfig:
    """Per-example projected gradient features of chosen linear layers."""

    impl: FeatureImpl = field(
        default=FeatureImpl.hooks,
        metadata={"help": "hooks: batched, projected per layer (projection); loop: batch 1, dense"},
    )
    layers: list[str] = field(
        default_factory=list,
        metadata={
            "help": "regexes searched in nn.Linear module names; empty: the LoRA factors if the "
            "model has any, else every nn.Linear inside the decoder blocks"
        },
    )
    proj_in: int = field(
        default=16, metadata={"help": "input-side projection dim per layer (>= d_in: none)"}
    )
    proj_out: int = field(
        default=16, metadata={"help": "output-side projection dim per layer (>= d_out: none)"}
    )
    projection: ProjectionKind = field(
        default=ProjectionKind.sketch,
        metadata={
            "help": "hooks only: sketch (a CountSketch of each example's whole gradient, formed "
            "layer by layer; keeps the gradients' geometry as a dense projection does) or "
            "kronecker (P_out grad P_in^T per layer, never forms a layer's gradient); the loop "
            "always projects densely, whatever this says"
        },
    )
    loop_dim: int | None = field(
        default=None,
        metadata={"help": "feature dim of the loop path; null: the hook path's total dim"},
    )
    loop_chunk: int = field(
        default=4096,
        metadata={"help": "rows of the dense projection generated at once by the loop path"},
    )
    seed: int = field(default=0, metadata={"help": "seed of the projection matrices"})
    batch_size: int = field(
        default=16, metadata={"help": "examples per backward (hooks) or per projection (loop)"}
    )
    shard_size: int = field(
        default=4096,
        metadata={
            "help": "rows per feature shard on disk (the unit of resuming, and of work under "
            "torch.distributed: shard k goes to rank k % world_size); a multiple of batch_size"
        },
    )
    dtype: StorageDType = field(
        default=StorageDType.float32, metadata={"help": "storage dtype of feature shards"}
    )

    def keyed(self) -> FeatureConfig:
        """This config as cache keys see it: a setting the chosen ``impl`` ignores is at one
        fixed value (the loop ignores ``projection``: kronecker, as before it was a setting),
        so that stores are not split, or orphaned, by it."""
        if self.impl == FeatureImpl.loop:
            return replace(self, projection=ProjectionKind.kronecker)
        return self

    def __post_init__(self) -> None:
        self.impl = require_choice("attribution.impl", FeatureImpl, self.impl)
        self.dtype = require_choice("attribution.dtype", StorageDType, self.dtype)
        self.projection = require_choice("attribution.projection", ProjectionKind, self.projection)
        for key in ("proj_in", "proj_out", "loop_chunk", "batch_size", "shard_size"):
            require_positive(f"attribution.{key}", getattr(self, key))
        if self.loop_dim is not None and self.loop_dim <= 0:
            raise ConfigError(f"attribution.loop_dim must be > 0 or null, got {self.loop_dim}")
        for i, pattern in enumerate(self.layers):
            try:
                re.compile(pattern)
            except re.error as err:
                raise ConfigError(
                    f"attribution.layers[{i}] is not a regex ({err}): {pattern!r}"
                ) from None
