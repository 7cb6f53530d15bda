"""Features of the attribution study, computed once and shared by every method and run.

:class:`FeatureBank` holds the warmed-up model and hands out, each computed at most once per run
and cached on disk under ``paths.cache_dir`` (keyed by the warm-up, the checkpoint, every
``attribution`` feature setting and the examples' tokens and loss masks:
:func:`~drift.attribution.extract.store_key`, so a second method or a second run with the same
upstream config reuses them and a sweep over a feature setting gets a store per value):

- the pool's projected loss gradients at the final snapshot (a :class:`FeatureStore`);
- LESS's Adam-transformed pool gradients at every snapshot (explicit per-example gradients from
  the hooks with an identity projection, transformed by the snapshot's Adam state, then
  projected exactly like the plain features, so both live in one feature space);
- projected gradients of validation targets, and per-example losses.

Under ``torch.distributed`` (a multi-device trainer has started the process group), every rank
computes its own shards of each store and the stores are merged as if one process had written
them (:mod:`drift.attribution.fill`); scoring then reads the merged stores on every rank.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from drift.attribution.adam_features import AdamFeatures
from drift.attribution.extract import (
    Projection,
    extract_features,
    feature_projection,
    feature_settings,
    store_key,
)
from drift.attribution.fill import fill_store, open_store
from drift.attribution.layers import layer_shapes, select_layers
from drift.attribution.scoring_config import AdamForm
from drift.attribution.store import FeatureStore
from drift.attribution.targets import TargetSet
from drift.config import DriftConfig
from drift.data.chat import EncodedExample, encode_examples
from drift.data.token_store import encode_to_store
from drift.pipeline.attribution_warmup import (
    Checkpoint,
    Warmup,
    apply_params,
    load_base,
    load_state,
)
from drift.training.data import pad_examples
from drift.training.loss import per_example_loss
from drift.types import TrainExample
from drift.utils.distributed import Ranks
from drift.utils.hashing import config_hash

log = logging.getLogger(__name__)


class StoreMismatch(ValueError):
    """A feature store's rows do not line up with the examples they should describe."""


def feature_device(cfg: DriftConfig) -> str:
    """Where features are computed: the GPU when the trainer uses one and it is visible."""
    gpu = cfg.trainer.accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available()
    return "cuda" if gpu else "cpu"


class FeatureBank:
    """Lazily computed, cached features of the pool and of validation targets."""

    def __init__(
        self, cfg: DriftConfig, warmup: Warmup, pool: Sequence[TrainExample], device: str = "cpu"
    ) -> None:
        self.cfg, self.warmup, self.device = cfg, warmup, torch.device(device)
        self.model, self.tokenizer = load_base(cfg)
        self.model.to(self.device)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        # in chunks, into flat token arrays: never the whole pool's tokenisation at once
        self.pool = encode_to_store(
            self.tokenizer, pool, cfg.trainer.max_length, truncation=cfg.trainer.truncation
        )
        self._loaded: int | None = None
        self._state: dict[str, Any] = {}
        self._memo: dict[str, Any] = {}
        self.cache = Path(cfg.paths.cache_dir)

    def at(self, ckpt: Checkpoint) -> nn.Module:
        """The model with ``ckpt``'s parameters (loaded once per switch)."""
        if self._loaded != ckpt.index:
            self._state = load_state(ckpt)
            apply_params(self.model, self._state)
            self._loaded = ckpt.index
        return self.model

    def encode(self, examples: Sequence[TrainExample]) -> list[EncodedExample]:
        return encode_examples(
            self.tokenizer, list(examples), self.cfg.trainer.max_length, self.cfg.trainer.truncation
        )

    def _extract(
        self, examples: Sequence[EncodedExample], ckpt: Checkpoint, tag: str
    ) -> FeatureStore:
        key = store_key([ckpt.key], self.cfg.attribution, examples, tag)
        store = extract_features(
            self.at(ckpt),
            examples,
            self.cfg.attribution,
            self.cache / f"features-{tag}-{key}",
            pad_id=self.pad_id,
            model_name=self.cfg.model.name_or_path,
            checkpoint=ckpt.key,
            show_progress=len(examples) > 1000,
        )
        _check_rows(store, [e.id for e in examples])
        return store

    def pool_store(self) -> FeatureStore:
        """Plain projected loss gradients of the pool at the final snapshot."""
        if "pool" not in self._memo:
            self._memo["pool"] = self._extract(self.pool, self.warmup.final, "pool")
        return self._memo["pool"]

    def grad_norms(self) -> np.ndarray:
        """Exact ‖g_z‖ [N] of the pool at the final snapshot (the bias DRIFT-IF removes)."""
        return self.pool_store().norms().astype(np.float64)

    def target_features(self, targets: TargetSet, ckpt: Checkpoint | None = None) -> np.ndarray:
        """Projected gradients [M, D] of the target examples, in their order."""
        ckpt = ckpt or self.warmup.final
        encoded = self.encode(targets.examples)
        key = config_hash(ckpt.key, [e.input_ids for e in encoded], [e.loss_mask for e in encoded])
        if key not in self._memo:
            self._memo[key] = self._extract(encoded, ckpt, "targets").load()
        return self._memo[key]

    def losses(self, examples: Sequence[TrainExample] | None = None) -> np.ndarray:
        """Token-mean losses [N] at the final snapshot (the pool's when ``examples`` is None)."""
        encoded = self.pool if examples is None else self.encode(examples)
        model = self.at(self.warmup.final)
        out = []
        bs = self.cfg.attribution.batch_size
        with torch.no_grad():
            for start in range(0, len(encoded), bs):
                batch = self.batch(encoded[start : start + bs])
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
                out.append(per_example_loss(logits.logits, batch["input_ids"], batch["loss_mask"]))
        return torch.cat(out).double().cpu().numpy() if out else np.zeros(0)

    def batch(self, examples: Sequence[EncodedExample]) -> dict[str, Tensor]:
        return {k: v.to(self.device) for k, v in pad_examples(examples, self.pad_id).items()}

    def adam_store(self, ckpt: Checkpoint, form: AdamForm) -> FeatureStore:
        """LESS's features at ``ckpt``: projected Adam update directions of the pool."""
        model = self.at(ckpt)
        cfg = self.cfg.attribution
        modules = select_layers(model, cfg.layers)
        ids = self.pool.ids
        settings = feature_settings(
            cfg, layer_shapes(modules), ids, self.cfg.model.name_or_path, ckpt.key
        )
        settings["adam_form"] = AdamForm(form).value
        project = feature_projection(model, cfg, self.device)
        dim = int(project(_zero_grads(modules, self.device)).shape[1])
        key = store_key([ckpt.key], cfg, self.pool, "adam", settings)
        ranks = Ranks.current()
        store = open_store(
            self.cache / f"features-adam-{key}", dim, cfg.dtype.value, settings, ranks
        )
        if not store.complete:
            featurize = self._adam_features(model, modules, project, AdamForm(form))
            rows = partial(self._adam_rows, featurize)
            store = fill_store(store, ids, cfg.shard_size, rows, ranks)
        _check_rows(store, ids)
        return store

    def _adam_features(
        self, model: nn.Module, modules: dict[str, nn.Linear], project: Projection, form: AdamForm
    ) -> AdamFeatures:
        state = {n: self._state["adam"][f"{n}.weight"] for n in modules}
        betas, eps = tuple(self._state["betas"]), float(self._state["eps"])
        return AdamFeatures(model, modules, state, betas, eps, form, project)

    def _adam_rows(
        self, featurize: AdamFeatures, start: int, stop: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Adam features [n, dim] of pool rows ``start:stop`` and their norms [n]."""
        bs = self.cfg.attribution.batch_size
        parts = [
            featurize(self.batch(self.pool[i : min(i + bs, stop)])) for i in range(start, stop, bs)
        ]
        rows = torch.cat(parts).cpu().numpy()
        return rows, np.linalg.norm(rows, axis=1)


def _zero_grads(modules: dict[str, nn.Linear], device: torch.device) -> dict[str, Tensor]:
    return {
        n: torch.zeros(1, m.out_features, m.in_features, device=device) for n, m in modules.items()
    }


def _check_rows(store: FeatureStore, ids: list[str]) -> None:
    if store.ids != ids:
        raise StoreMismatch(
            f"{store.path}: the store's {store.num_rows} rows do not match the {len(ids)} "
            "examples asked for (same ids in the same order); delete the store to rebuild it"
        )
