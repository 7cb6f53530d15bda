"""Extraction driver: encoded examples -> batches -> per-example features -> feature store.

Resumable: examples whose ids are already in the store are skipped, finished shards are never
rewritten, and a store built with other settings is refused. The per-example loss is the
training loss (token-mean NLL over ``loss_mask``), with the model in eval mode (dropout off).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from drift.attribution.config import FeatureConfig, FeatureImpl
from drift.attribution.hooks import GradientCollector
from drift.attribution.layers import layer_shapes, select_layers
from drift.attribution.loop import loop_features
from drift.attribution.projection import DenseProjector, KroneckerProjector
from drift.attribution.store import FeatureStore
from drift.data.chat import EncodedExample
from drift.training.data import pad_examples
from drift.training.loss import per_example_loss
from drift.utils.hashing import config_hash
from drift.utils.progress import progress

log = logging.getLogger(__name__)

Step = Callable[[dict[str, Tensor]], tuple[Tensor, Tensor]]  # batch -> ([B, dim], ‖g‖² [B])


class NonFiniteGradientError(RuntimeError):
    """An example's gradient has NaN/inf entries; the message names the example ids."""


def feature_settings(
    cfg: FeatureConfig,
    shapes: dict[str, tuple[int, int]],
    ids: Sequence[str],
    model_name: str,
    checkpoint: str | None,
) -> dict[str, Any]:
    """Everything that determines the features: a store is only reused if these match."""
    settings: dict[str, Any] = {
        "model": model_name,
        "checkpoint": checkpoint,
        "impl": cfg.impl.value,
        "layers": [[name, d_out, d_in] for name, (d_out, d_in) in shapes.items()],
        "proj_in": cfg.proj_in,
        "proj_out": cfg.proj_out,
        "seed": cfg.seed,
        "loss": "token_mean_nll",
        "num_examples": len(ids),
        "examples_hash": config_hash(list(ids)),
    }
    if cfg.impl == FeatureImpl.LOOP:
        settings["loop_chunk"] = cfg.loop_chunk
    return settings


def extract_features(
    model: nn.Module,
    examples: Sequence[EncodedExample],
    cfg: FeatureConfig,
    store_dir: str | Path,
    *,
    pad_id: int,
    model_name: str,
    checkpoint: str | None = None,
    show_progress: bool = True,
) -> FeatureStore:
    """Features of every example into the store at ``store_dir`` (resuming it); return the store.

    Raises :class:`NonFiniteGradientError` naming the examples whose gradient is not finite,
    after writing the finite rows computed so far as a shard (nothing finished is lost).
    """
    ids = [ex.id for ex in examples]
    if len(set(ids)) != len(ids):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)[:5]
        raise ValueError(f"example ids must be unique; repeated: {dupes}")
    modules = select_layers(model, cfg.layers)
    shapes = layer_shapes(modules)
    device = next(model.parameters()).device
    kron = KroneckerProjector(shapes, cfg.proj_in, cfg.proj_out, cfg.seed, device)
    dim = kron.dim if cfg.impl == FeatureImpl.HOOKS else (cfg.loop_dim or kron.dim)
    settings = feature_settings(cfg, shapes, ids, model_name, checkpoint)
    store = FeatureStore.open_or_create(store_dir, dim, cfg.dtype.value, settings)
    if store.complete:
        return store
    done = set(store.ids)
    todo = [ex for ex in examples if ex.id not in done]
    log.info("features: %d of %d examples to do -> %s", len(todo), len(ids), store.path)
    with ExitStack() as stack:
        stack.enter_context(_eval_mode(model))
        if cfg.impl == FeatureImpl.HOOKS:
            col = stack.enter_context(GradientCollector(model, modules, kron))
            step: Step = partial(_hook_step, model, col)
        else:
            n_params = sum(d_out * d_in for d_out, d_in in shapes.values())
            dense = DenseProjector(n_params, dim, cfg.seed, cfg.loop_chunk)
            step = partial(
                loop_features, model, modules=modules, projector=dense, loss_fn=per_example_loss
            )
        bar = stack.enter_context(progress(len(todo), "features")) if show_progress else None
        _run(todo, step, store, cfg, pad_id, device, bar)
    store.mark_complete()
    return store


def _hook_step(
    model: nn.Module, col: GradientCollector, batch: dict[str, Tensor]
) -> tuple[Tensor, Tensor]:
    ids, mask = batch["input_ids"], batch["attention_mask"]
    col.set_mask(mask)
    logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    return col.backward(per_example_loss(logits, ids, batch["loss_mask"]))


def _run(
    todo: Sequence[EncodedExample],
    step: Step,
    store: FeatureStore,
    cfg: FeatureConfig,
    pad_id: int,
    device: torch.device,
    bar: Any,
) -> None:
    writer = _ShardWriter(store, cfg.shard_size)
    for start in range(0, len(todo), cfg.batch_size):
        chunk = todo[start : start + cfg.batch_size]
        batch = {k: v.to(device) for k, v in pad_examples(chunk, pad_id).items()}
        features, sq_norms = step(batch)
        ok = (torch.isfinite(features).all(dim=1) & torch.isfinite(sq_norms)).cpu()
        keep = [i for i, good in enumerate(ok.tolist()) if good]
        writer.add(
            [chunk[i].id for i in keep],
            features[ok.to(features.device)].cpu().numpy(),
            sq_norms[ok.to(sq_norms.device)].sqrt().cpu().numpy(),
        )
        if len(keep) < len(chunk):
            writer.flush()
            bad = [chunk[i].id for i in range(len(chunk)) if i not in keep]
            raise NonFiniteGradientError(
                f"non-finite gradient (NaN/inf) for example(s) {bad}; finished shards are kept "
                f"in {store.path}: fix or drop these examples and rerun to resume"
            )
        if bar is not None:
            bar.advance(len(chunk))
    writer.flush()


class _ShardWriter:
    """Buffers rows and writes a shard of ``shard_size`` rows whenever enough are ready."""

    def __init__(self, store: FeatureStore, shard_size: int) -> None:
        self.store, self.shard_size = store, shard_size
        self.ids: list[str] = []
        self.features: list[np.ndarray] = []
        self.norms: list[np.ndarray] = []

    def add(self, ids: list[str], features: np.ndarray, norms: np.ndarray) -> None:
        self.ids.extend(ids)
        self.features.append(features)
        self.norms.append(norms)
        while len(self.ids) >= self.shard_size:
            self._write(self.shard_size)

    def flush(self) -> None:
        if self.ids:
            self._write(len(self.ids))

    def _write(self, rows: int) -> None:
        features, norms = np.concatenate(self.features), np.concatenate(self.norms)
        self.store.append(features[:rows], self.ids[:rows], norms[:rows])
        self.ids = self.ids[rows:]
        self.features, self.norms = [features[rows:]], [norms[rows:]]


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode (dropout off) with gradients enabled; restores the training flag."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            yield
    finally:
        model.train(was_training)
