"""Extraction driver: encoded examples -> batches -> per-example features -> feature store.

Resumable: finished shards are never recomputed, and a store built with other settings is
refused. Rank-aware: under ``torch.distributed`` every rank calls :func:`extract_features` with
the same examples, computes its own shards and the store is merged as if one process had written
it (:mod:`drift.attribution.fill`). The per-example loss is the training loss (token-mean NLL
over ``loss_mask``), with the model in eval mode (dropout off).
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

from drift.attribution.config import FeatureConfig, FeatureImpl, ProjectionKind
from drift.attribution.fill import fill_store, open_store, shard_bounds
from drift.attribution.hooks import GradientCollector
from drift.attribution.layers import layer_shapes, select_layers
from drift.attribution.loop import loop_features
from drift.attribution.projection import (
    DenseProjector,
    KroneckerProjector,
    LayerProjector,
    SketchProjector,
    projected_dim,
)
from drift.attribution.store import FeatureStore
from drift.data.chat import EncodedExample
from drift.training.data import pad_examples
from drift.training.loss import per_example_loss
from drift.utils.distributed import Ranks
from drift.utils.hashing import config_hash
from drift.utils.progress import progress

log = logging.getLogger(__name__)

Step = Callable[[dict[str, Tensor]], tuple[Tensor, Tensor]]  # batch -> ([B, dim], ‖g‖² [B])
Projection = Callable[[dict[str, Tensor]], Tensor]  # name -> [B, d_out, d_in]  =>  [B, dim]


def layer_projector(
    cfg: FeatureConfig, shapes: dict[str, tuple[int, int]], device: torch.device | str
) -> LayerProjector:
    """The hook path's seeded per-layer projector (``attribution.projection``)."""
    kind = KroneckerProjector if cfg.projection == ProjectionKind.kronecker else SketchProjector
    return kind(shapes, cfg.proj_in, cfg.proj_out, cfg.seed, device)


def feature_projection(model: nn.Module, cfg: FeatureConfig, device: torch.device) -> Projection:
    """The map from per-layer weight gradients to the feature space of :func:`extract_features`
    (same layers, same seeded projector), for gradients computed outside the extractor."""
    shapes = layer_shapes(select_layers(model, cfg.layers))
    if cfg.impl == FeatureImpl.hooks:
        return layer_projector(cfg, shapes, device).project_grads
    n_params = sum(d_out * d_in for d_out, d_in in shapes.values())
    dim = cfg.loop_dim or projected_dim(shapes, cfg.proj_in, cfg.proj_out)
    dense = DenseProjector(n_params, dim, cfg.seed, cfg.loop_chunk)
    return lambda grads: dense.project(torch.cat([grads[n].flatten(1) for n in shapes], dim=1))


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
    if cfg.impl == FeatureImpl.loop:
        settings["loop_chunk"] = cfg.loop_chunk
    if cfg.impl == FeatureImpl.hooks and cfg.projection != ProjectionKind.kronecker:
        settings["projection"] = cfg.projection.value  # Kronecker stores from before stay valid
    return settings


def store_key(
    upstream: Sequence[Any],
    cfg: FeatureConfig,
    examples: Sequence[EncodedExample],
    *extra: Any,
) -> str:
    """Cache key of a feature store: everything that shapes its rows. ``upstream`` names the
    model they are taken from (policy, checkpoint); then every feature setting (layers,
    projection, ``loop_dim``, storage dtype, ...), the examples' tokens and loss masks, and
    ``extra`` (what else the caller's rows depend on, e.g. LESS's Adam form)."""
    tokens = [e.input_ids for e in examples]
    masks = [e.loss_mask for e in examples]
    return config_hash(*upstream, cfg.keyed(), tokens, masks, *extra)


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
    ranks: Ranks | None = None,
) -> FeatureStore:
    """Features of every example into the store at ``store_dir`` (resuming it); return the store.

    ``ranks`` (default: the ``torch.distributed`` group, if any) splits the work: every rank
    must call this with the same arguments. Raises
    :class:`~drift.attribution.fill.NonFiniteGradientError` naming the examples whose gradient
    is not finite; finished shards are kept.
    """
    ids = [ex.id for ex in examples]
    if len(set(ids)) != len(ids):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)[:5]
        raise ValueError(f"example ids must be unique; repeated: {dupes}")
    ranks = ranks or Ranks.current()
    modules = select_layers(model, cfg.layers)
    shapes = layer_shapes(modules)
    device = next(model.parameters()).device
    hook_dim = projected_dim(shapes, cfg.proj_in, cfg.proj_out)
    dim = hook_dim if cfg.impl == FeatureImpl.hooks else (cfg.loop_dim or hook_dim)
    settings = feature_settings(cfg, shapes, ids, model_name, checkpoint)
    store = open_store(store_dir, dim, cfg.dtype.value, settings, ranks)
    if store.complete:
        return store
    mine = shard_bounds(len(ids), cfg.shard_size)[ranks.rank :: ranks.world_size]
    rows = sum(stop - start for start, stop in mine)
    log.info(
        "features: rank %d of %d computes up to %d of %d examples -> %s",
        ranks.rank,
        ranks.world_size,
        rows,
        len(ids),
        store.path,
    )
    with ExitStack() as stack:
        stack.enter_context(_eval_mode(model))
        if cfg.impl == FeatureImpl.hooks:
            projector = layer_projector(cfg, shapes, device)
            col = stack.enter_context(GradientCollector(model, modules, projector))
            step: Step = partial(_hook_step, model, col)
        else:
            n_params = sum(d_out * d_in for d_out, d_in in shapes.values())
            dense = DenseProjector(n_params, dim, cfg.seed, cfg.loop_chunk)
            step = partial(
                loop_features, model, modules=modules, projector=dense, loss_fn=per_example_loss
            )
        show = show_progress and ranks.is_main
        bar = stack.enter_context(progress(rows, "features")) if show else None
        compute = partial(_rows, examples, step, cfg.batch_size, pad_id, device, bar)
        return fill_store(store, ids, cfg.shard_size, compute, ranks)


def _hook_step(
    model: nn.Module, col: GradientCollector, batch: dict[str, Tensor]
) -> tuple[Tensor, Tensor]:
    ids, mask = batch["input_ids"], batch["attention_mask"]
    col.set_mask(mask)
    logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    return col.backward(per_example_loss(logits, ids, batch["loss_mask"]))


def _rows(
    examples: Sequence[EncodedExample],
    step: Step,
    batch_size: int,
    pad_id: int,
    device: torch.device,
    bar: Any,
    start: int,
    stop: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Features [n, dim] and exact gradient norms [n] of ``examples[start:stop]``, by batches."""
    features, norms = [], []
    for first in range(start, stop, batch_size):
        chunk = examples[first : min(first + batch_size, stop)]
        batch = {k: v.to(device) for k, v in pad_examples(chunk, pad_id).items()}
        feats, sq_norms = step(batch)
        features.append(feats.cpu().numpy())
        norms.append(sq_norms.sqrt().cpu().numpy())
        if bar is not None:
            bar.advance(len(chunk))
    return np.concatenate(features), np.concatenate(norms)


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
