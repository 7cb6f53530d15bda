"""Which linear layers carry gradient features."""

from __future__ import annotations

import re
from collections.abc import Sequence

from torch import nn

from drift.config import ConfigError

_BLOCK = re.compile(r"\.\d+\.")  # a module inside a ModuleList of blocks: "model.layers.3.mlp"
_LORA = re.compile(r"\.lora_[AB]\.[^.]+$")  # PEFT's factor modules: "...q_proj.lora_A.default"


def select_layers(model: nn.Module, patterns: Sequence[str] = ()) -> dict[str, nn.Linear]:
    """Named ``nn.Linear`` modules, in model order, whose gradients become features.

    With ``patterns`` a module is chosen when any regex matches its name (``re.search``).
    Without, the LoRA factor modules if the model has any, else every linear layer inside the
    decoder blocks (the output head and anything outside a block list are left out).
    """
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    if patterns:
        chosen = {n: m for n, m in linears.items() if any(re.search(p, n) for p in patterns)}
        if not chosen:
            raise ConfigError(f"attribution.layers {list(patterns)} match no nn.Linear module")
        return chosen
    lora = {n: m for n, m in linears.items() if _LORA.search(n)}
    if lora:
        return lora
    chosen = {n: m for n, m in linears.items() if _BLOCK.search(n)}
    if not chosen:
        raise ConfigError("attribution.layers: the model has no linear layer in decoder blocks")
    return chosen


def layer_shapes(modules: dict[str, nn.Linear]) -> dict[str, tuple[int, int]]:
    """``name -> (d_out, d_in)`` of each weight."""
    return {name: (m.out_features, m.in_features) for name, m in modules.items()}
