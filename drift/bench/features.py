"""Per-example gradient features: the hook path against LESS's batch-1 loop and plain fwd+bwd.

Same model (LoRA r=8 on q/k/v/o), examples and feature dim for ``hooks`` and ``loop (LESS)``
(:func:`~drift.attribution.extract.extract_features` with ``impl`` hooks or loop, each round
into a fresh store); ``plain fwd+bwd`` is a batched forward and backward of the summed
per-example losses with no features (the floor; its ratio to the loop bounds hooks / loop). Rates
are examples per second.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from drift.attribution.config import FeatureConfig
from drift.attribution.extract import extract_features
from drift.bench import models
from drift.bench.harness import BenchResult, Size, interleave
from drift.data.chat import EncodedExample
from drift.training.data import pad_examples
from drift.training.loss import per_example_loss

# examples, max length, batch size, projection per side
SHAPES: dict[Size, tuple[int, int, int, int]] = {
    Size.TINY: (4, 16, 2, 4),
    Size.SMALL: (128, 64, 16, 16),
    Size.FULL: (256, 512, 16, 16),
}


def plain_backward(model: torch.nn.Module, examples: list[EncodedExample], batch: int) -> None:
    """Batched forward+backward of the summed per-example losses, gradients dropped."""
    device = next(model.parameters()).device
    for i in range(0, len(examples), batch):
        padded = {k: v.to(device) for k, v in pad_examples(examples[i : i + batch], 0).items()}
        ids = padded["input_ids"]
        logits = model(input_ids=ids, attention_mask=padded["attention_mask"], use_cache=False)
        per_example_loss(logits.logits, ids, padded["loss_mask"]).sum().backward()
    model.zero_grad(set_to_none=True)


def run(size: Size, repeats: int) -> BenchResult:
    """Hooks, loop and plain fwd+bwd interleaved at ``size``."""
    n, seq, batch, proj = SHAPES[Size(size)]
    base, tokenizer = models.build(size)
    model = models.with_lora(base).to(models.device()).eval()
    examples = models.random_examples(n, seq, len(tokenizer))
    common = {"proj_in": proj, "proj_out": proj, "batch_size": batch, "shard_size": n}
    configs = {
        "hooks": FeatureConfig(**common),
        "loop (LESS)": FeatureConfig(impl="loop", **common),
    }
    dims: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        counter = iter(range(1 << 30))

        def extract(name: str) -> Callable[[], float]:
            def case() -> float:
                path = Path(tmp) / f"store-{next(counter)}"
                cfg = configs[name]
                kwargs = {"pad_id": 0, "model_name": "bench", "show_progress": False}
                store = extract_features(model, examples, cfg, path, **kwargs)
                dims[name] = store.dim
                return n

            return case

        def plain() -> float:
            plain_backward(model, examples, batch)
            return n

        logging.getLogger("drift.attribution").setLevel(logging.WARNING)
        cases = {  # hooks and plain side by side: their ratio is the one seconds apart
            "hooks": extract("hooks"),
            "plain fwd+bwd": plain,
            "loop (LESS)": extract("loop (LESS)"),
        }
        seconds, units = interleave(cases, repeats)
    shape = models.shape(Size(size))
    return BenchResult(
        name="features",
        size=str(size),
        unit="examples/s",
        setting={
            "model": f"{shape.architecture.value} h{shape.hidden_size}x{shape.num_layers}",
            "lora": "r=8 q/k/v/o",
            "examples": n,
            "length": f"{seq // 2}-{seq}",
            "batch": batch,
            "dim": dims["hooks"],
            "device": str(models.device()),
        },
        seconds=seconds,
        units=units,
        comparisons=[
            ("hooks", "loop (LESS)"),
            ("hooks", "plain fwd+bwd"),
            ("plain fwd+bwd", "loop (LESS)"),  # the most hooks / loop can reach
        ],
    )
