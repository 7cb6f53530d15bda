"""The attribution study's base model, warm-up on the pool, and retraining on a selection.

The warm-up fine-tunes the base on (a share of) the pool and snapshots, at evenly spaced
optimiser steps, the trainable parameters and their AdamW state (``exp_avg``, ``exp_avg_sq``,
``step``, keyed by parameter name) together with the mean learning rate since the previous
snapshot: what LESS needs for its Adam-preconditioned, learning-rate-weighted features. The
final snapshot is also exported as an HF directory (rollouts, evaluation). Everything is cached
under ``paths.cache_dir`` by a hash of the config it depends on, with a manifest of its files
written last; a cached warm-up that does not match its manifest is redone, with a warning.

The base is the untrained ``model`` (for ``tiny``: a fresh init drawn from the run seed), or the
cached reference policy when ``model.warmup.enabled``; warm-up and every retrain start from it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy
from torch import nn

from drift.config import ConfigError, DriftConfig, Normalize, TrainerConfig
from drift.data.pool import Pool
from drift.models.factory import apply_lora, export_hf, load_policy
from drift.pipeline.cache_keys import cache_key, work_dir, write_entry_config
from drift.pipeline.reference import ensure_reference
from drift.training.fit import train_policy
from drift.types import TrainExample
from drift.utils.distributed import Ranks, on_every_rank
from drift.utils.io import atomic_open, write_json
from drift.utils.manifest import check_manifest, reusable, write_manifest

log = logging.getLogger(__name__)

WARMUP_VERSION = "attribution-warmup-v1"


@dataclass
class Checkpoint:
    """One warm-up snapshot: ``state.pt`` in ``path``; ``key`` names it in feature stores."""

    index: int
    step: int
    mean_lr: float
    path: Path
    key: str


@dataclass
class Warmup:
    """The warm-up's snapshots (in step order) and the final model as an HF directory."""

    checkpoints: list[Checkpoint]
    policy_dir: Path
    key: str

    @property
    def final(self) -> Checkpoint:
        return self.checkpoints[-1]


def load_base(cfg: DriftConfig) -> tuple[nn.Module, Any]:
    """The study's base model (seeded by ``cfg.seed``) with LoRA applied when configured."""
    base = ensure_reference(cfg)
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_policy(cfg.model, path=None if base == cfg.model.name_or_path else base)
    if cfg.model.lora is not None:
        model = apply_lora(model, cfg.model.lora)
    return model, tokenizer


def study_trainer(cfg: DriftConfig, steps: int, num_examples: int) -> TrainerConfig:
    """``cfg.trainer`` for exactly ``steps`` optimiser steps over ``num_examples`` examples."""
    per_epoch = -(-num_examples // cfg.trainer.effective_batch_size)
    return dataclasses.replace(cfg.trainer, max_steps=steps, max_epochs=-(-steps // per_epoch))


class AdamSnapshots(Callback):
    """Saves trainable parameters + AdamW state at the given optimiser steps (and at the end)."""

    def __init__(self, steps: list[int], out_dir: Path) -> None:
        self.pending, self.out_dir = sorted(set(steps)), out_dir
        self.lrs: list[float] = []
        self.saved: list[tuple[int, float, Path]] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if isinstance(trainer.strategy, FSDPStrategy | DeepSpeedStrategy):
            raise ConfigError(
                f"trainer.strategy={pl_module.config.strategy}: the attribution warm-up "
                "snapshots whole parameters and AdamW states, which this strategy shards; "
                "use trainer=ddp (or one device)"
            )

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        self.lrs.append(float(optimizer.param_groups[0]["lr"]))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, *_: Any) -> None:
        if self.pending and trainer.global_step >= self.pending[0]:
            self.pending.pop(0)
            self._save(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if not self.saved or self.saved[-1][0] != trainer.global_step:
            self._save(trainer, pl_module)

    def _save(self, trainer: pl.Trainer, pl_module: Any) -> None:
        step = trainer.global_step
        first = self.saved[-1][0] if self.saved else 0
        mean_lr = float(np.mean(self.lrs[first:step])) if step > first else 0.0
        optimizer = trainer.optimizers[0]
        params, adam = {}, {}
        for name, p in pl_module.model.named_parameters():
            if not p.requires_grad:
                continue
            params[name] = p.detach().cpu().clone()
            state = optimizer.state.get(p, {})
            if state:
                adam[name] = {
                    k: torch.as_tensor(v).detach().cpu().clone() for k, v in state.items()
                }
        group = optimizer.param_groups[0]
        path = self.out_dir / f"ckpt-{len(self.saved):02d}"
        payload = {"params": params, "adam": adam, "betas": group["betas"], "eps": group["eps"]}
        with atomic_open(path / "state.pt", "wb") as fh:
            torch.save(payload, fh)
        self.saved.append((step, mean_lr, path))


TRAINER_UNUSED = frozenset(
    {"max_steps", "max_epochs", "micro_batch_size", "accelerator", "num_workers"}
    | {"log_every_n_steps", "keep_checkpoints"}
)
"""``trainer`` settings that do not change the warm-up: its length comes from ``study``
(:func:`study_trainer`), and the rest say how it runs, not what it computes."""


def warmup_config(cfg: DriftConfig, pool_key: str) -> dict[str, Any]:
    """Everything the warm-up depends on: the pool, the model, the trainer settings it uses,
    the ``study`` settings of its length and snapshots, and the seed."""
    s = cfg.study
    trainer = {k: v for k, v in dataclasses.asdict(cfg.trainer).items() if k not in TRAINER_UNUSED}
    return {
        "artifact": "attr-warmup",
        "version": WARMUP_VERSION,
        "pool": pool_key,
        "model": dataclasses.asdict(cfg.model),
        "trainer": trainer,
        "study": [s.warmup_steps, s.warmup_epochs, s.warmup_fraction, s.checkpoints],
        "seed": cfg.seed,
    }


def warmup_key(cfg: DriftConfig, pool_key: str) -> str:
    """Hash of :func:`warmup_config`."""
    return cache_key(warmup_config(cfg, pool_key))


def warmup_examples_of(cfg: DriftConfig, pool: Pool) -> list[TrainExample]:
    """The share of the pool the warm-up trains on (all of it, or a seeded random subset)."""
    n = len(pool.examples)
    k = max(1, math.floor(cfg.study.warmup_fraction * n + 0.5))
    if k == n:
        return list(pool.examples)
    idx = np.sort(np.random.default_rng([cfg.seed, 5]).choice(n, size=k, replace=False))
    return [pool.examples[i] for i in idx]


def ensure_warmup(cfg: DriftConfig, pool: Pool, pool_key: str) -> Warmup:
    """Warm the base up on the pool (once per config) and return its snapshots."""
    key = warmup_key(cfg, pool_key)
    out = Path(cfg.paths.cache_dir) / f"attr-warmup-{key}"
    if reusable(out, "attribution warm-up"):
        log.info("reusing warm-up %s", out)
    else:
        _run_warmup(cfg, pool, out, warmup_config(cfg, pool_key))
    meta = json.loads((out / "meta.json").read_text())
    checkpoints = [
        Checkpoint(i, c["step"], c["mean_lr"], out / c["dir"], f"{key}/{c['dir']}")
        for i, c in enumerate(meta["checkpoints"])
    ]
    return Warmup(checkpoints, out / "policy", key)


def _run_warmup(cfg: DriftConfig, pool: Pool, out: Path, config: dict[str, Any]) -> None:
    """Build the warm-up entry in this run's work directory (:func:`work_dir`), then move it
    into place as a whole: a concurrent run building the same entry neither sees it half
    written nor writes into it (if one finished first, its entry is kept)."""
    examples = warmup_examples_of(cfg, pool)
    s = cfg.study
    steps = s.warmup_steps
    if s.warmup_epochs is not None:
        steps = s.warmup_epochs * -(-len(examples) // cfg.trainer.effective_batch_size)
    at = sorted({max(1, round(c * steps / s.checkpoints)) for c in range(1, s.checkpoints + 1)})
    stage = work_dir(out, cfg)  # a crashed attempt's files there are rewritten alike
    snapshots = AdamSnapshots(at, stage / "entry")
    model, tokenizer = load_base(cfg)
    log.info(
        "attribution warm-up: %d examples, %d steps, snapshots at %s", len(examples), steps, at
    )
    result = train_policy(
        model,
        tokenizer,
        examples,
        study_trainer(cfg, steps, len(examples)),
        Normalize.mean,
        output_dir=stage / "fit",
        seed=cfg.seed,
        extra_callbacks=[snapshots],
    )
    merge = cfg.model.lora.merge_on_export if cfg.model.lora is not None else True
    export_hf(result.model, tokenizer, stage / "entry" / "policy", merge_lora=merge)
    checkpoints = [
        {"step": step, "mean_lr": lr, "dir": path.name} for step, lr, path in snapshots.saved
    ]
    ranks = Ranks.current()  # the fit's process group, if it started one
    on_every_rank(lambda: _publish(stage, out, result.steps, checkpoints, config), ranks)


def _publish(
    stage: Path, out: Path, steps: int, checkpoints: list[dict[str, Any]], config: dict[str, Any]
) -> None:
    """Main rank: finish the staged entry (meta, manifest, config) and move it to ``out``."""
    if not Ranks.current().is_main:
        return
    entry = stage / "entry"
    write_json(entry / "meta.json", {"checkpoints": checkpoints, "steps": steps})
    write_manifest(entry)
    write_entry_config(entry, config)
    if out.exists() and check_manifest(out) is None:
        log.info("another run finished warm-up %s first; keeping it", out)
    else:
        if out.exists():  # the broken entry ensure_warmup found (its links already removed)
            shutil.rmtree(out)
        os.replace(entry, out)
    shutil.rmtree(stage, ignore_errors=True)  # the fit's checkpoints and logs


def load_state(ckpt: Checkpoint) -> dict[str, Any]:
    """A snapshot's ``params`` and ``adam`` (name -> tensors), ``betas`` and ``eps``."""
    return torch.load(ckpt.path / "state.pt", map_location="cpu", weights_only=True)


def apply_params(model: nn.Module, state: dict[str, Any]) -> nn.Module:
    """Copy a snapshot's parameters into ``model`` (built by :func:`load_base`); eval mode."""
    params = dict(model.named_parameters())
    missing = sorted(set(state["params"]) - set(params))
    if missing:
        raise ValueError(f"the snapshot has parameters the model lacks: {missing[:5]}")
    with torch.no_grad():
        for name, value in state["params"].items():
            params[name].copy_(value.to(params[name].device))
    return model.eval()
