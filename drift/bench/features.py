"""Per-example gradient features: the hook path against LESS's batch-1 loop and plain fwd+bwd.

Same model (LoRA r=8 on q/k/v/o), examples and feature dim for ``hooks, sketch`` (the default
``attribution.projection=sketch``), ``hooks, kronecker`` and ``loop (LESS)``
(:func:`~drift.attribution.extract.extract_features` with ``impl`` hooks or loop, each round
into a fresh store); ``plain fwd+bwd`` is a batched forward and backward of the summed
per-example losses with no features (the floor; its ratio to the loop bounds hooks / loop). Rates
are examples per second.

Each projection's accuracy goes in the notes: the exact per-example LoRA gradients (batch 1,
unprojected) give the examples' pairwise cosines, and each path's features at projection seeds
0..``ACCURACY_SEEDS - 1`` give theirs; the Pearson correlation of the two sets of cosines
(off-diagonal pairs), min and median over seeds. The features are the extractor's own maps
(:func:`~drift.attribution.extract.feature_projection`: the sketch or Kronecker projection of
the hooks, the dense Gaussian projection of the loop) applied to the exact gradients.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from drift.attribution.config import FeatureConfig
from drift.attribution.extract import extract_features, feature_projection
from drift.attribution.layers import select_layers
from drift.attribution.reference import per_example_weight_grads
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
ACCURACY_SEEDS = 5


def exact_grads(
    model: torch.nn.Module, examples: list[EncodedExample], cfg: FeatureConfig
) -> dict[str, Tensor]:
    """Per-example weight gradients of the feature layers, layer name -> [n, d_out, d_in]."""
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in pad_examples(examples, 0).items()}
    modules = select_layers(model, cfg.layers)
    return per_example_weight_grads(model, batch, modules, per_example_loss)


def cosine_pearson(features: Tensor, exact: Tensor) -> float:
    """Pearson correlation between the off-diagonal pairwise cosines of two [n, *] matrices."""
    iu = torch.triu_indices(len(exact), len(exact), offset=1)

    def cosines(x: Tensor) -> Tensor:
        unit = torch.nn.functional.normalize(x.double().flatten(1), dim=1)
        return (unit @ unit.T)[iu[0], iu[1]]

    return float(torch.corrcoef(torch.stack([cosines(features), cosines(exact)]))[0, 1])


def projection_accuracy(
    model: torch.nn.Module, examples: list[EncodedExample], configs: dict[str, FeatureConfig]
) -> dict[str, dict[str, float]]:
    """Cosine-matrix Pearson of each config's features against the exact gradients, min and
    median over projection seeds 0..ACCURACY_SEEDS - 1."""
    first = next(iter(configs.values()))
    grads = exact_grads(model, examples, first)
    exact = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    device = exact.device
    out = {}
    for name, cfg in configs.items():
        values = []
        for seed in range(ACCURACY_SEEDS):
            project = feature_projection(model, replace(cfg, seed=seed), device)
            values.append(cosine_pearson(project(grads), exact))
        out[name] = {"min": min(values), "median": statistics.median(values)}
    return out


def plain_backward(model: torch.nn.Module, examples: list[EncodedExample], batch: int) -> None:
    """Batched forward+backward of the summed per-example losses, gradients dropped."""
    device = next(model.parameters()).device
    for i in range(0, len(examples), batch):
        padded = {k: v.to(device) for k, v in pad_examples(examples[i : i + batch], 0).items()}
        ids = padded["input_ids"]
        logits = model(input_ids=ids, attention_mask=padded["attention_mask"], use_cache=False)
        per_example_loss(logits.logits, ids, padded["loss_mask"]).sum().backward()
    model.zero_grad(set_to_none=True)


def _time_paths(
    model: torch.nn.Module,
    examples: list[EncodedExample],
    configs: dict[str, FeatureConfig],
    batch: int,
    repeats: int,
) -> tuple[dict[str, list[float]], dict[str, float], dict[str, int]]:
    """Seconds and units of each config's extraction and of plain fwd+bwd, interleaved, and
    each config's feature dim."""
    n = len(examples)
    dims: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        counter = iter(range(1 << 30))

        def extract(name: str) -> Callable[[], float]:
            def case() -> float:
                path = Path(tmp) / f"store-{next(counter)}"
                kwargs = {"pad_id": 0, "model_name": "bench", "show_progress": False}
                store = extract_features(model, examples, configs[name], path, **kwargs)
                dims[name] = store.dim
                return n

            return case

        def plain() -> float:
            plain_backward(model, examples, batch)
            return n

        logging.getLogger("drift.attribution").setLevel(logging.WARNING)
        cases = {  # hooks and plain side by side: their ratio is the one seconds apart
            "hooks, sketch": extract("hooks, sketch"),
            "plain fwd+bwd": plain,
            "hooks, kronecker": extract("hooks, kronecker"),
            "loop (LESS)": extract("loop (LESS)"),
        }
        seconds, units = interleave(cases, repeats)
    return seconds, units, dims


def run(size: Size, repeats: int) -> BenchResult:
    """Hooks, loop and plain fwd+bwd interleaved at ``size``."""
    n, seq, batch, proj = SHAPES[Size(size)]
    base, tokenizer = models.build(size)
    model = models.with_lora(base).to(models.device()).eval()
    examples = models.random_examples(n, seq, len(tokenizer))
    common = {"proj_in": proj, "proj_out": proj, "batch_size": batch, "shard_size": n}
    configs = {
        "hooks, sketch": FeatureConfig(projection="sketch", **common),
        "hooks, kronecker": FeatureConfig(projection="kronecker", **common),
        "loop (LESS)": FeatureConfig(impl="loop", **common),
    }
    seconds, units, dims = _time_paths(model, examples, configs, batch, repeats)
    accuracy = projection_accuracy(model, examples, configs)
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
            "dim": dims["hooks, sketch"],
            "device": str(models.device()),
        },
        seconds=seconds,
        units=units,
        comparisons=[
            ("hooks, sketch", "loop (LESS)"),
            ("hooks, sketch", "plain fwd+bwd"),
            ("hooks, sketch", "hooks, kronecker"),
            ("plain fwd+bwd", "loop (LESS)"),  # the most hooks / loop can reach
        ],
        notes={"cosine Pearson vs exact gradients": accuracy},
    )
