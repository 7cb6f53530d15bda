"""The reference policy: a HF model as given, or the tiny model warmed up on the embedded task."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from drift.config import ConfigError, DriftConfig, Normalize, TaskSource, TrainerConfig
from drift.data.embedded import warmup_examples
from drift.models.factory import export_hf, load_policy
from drift.training.fit import train_policy
from drift.utils.hashing import config_hash

log = logging.getLogger(__name__)

WARMUP_VERSION = "warmup-v1"


def reference_key(cfg: DriftConfig) -> str:
    """Hash of everything the reference policy depends on."""
    if not cfg.model.warmup.enabled:
        return config_hash(cfg.model.name_or_path, cfg.model.dtype)
    return config_hash(WARMUP_VERSION, cfg.model, cfg.task, cfg.seed)


def warmup_trainer(cfg: DriftConfig) -> TrainerConfig:
    """Trainer settings of the warm-up stage, derived from ``model.warmup``."""
    w = cfg.model.warmup
    return dataclasses.replace(
        cfg.trainer,
        lr=w.lr,
        micro_batch_size=w.batch_size,
        effective_batch_size=w.batch_size,
        max_steps=w.steps,
        max_epochs=max(1, -(-w.steps * w.batch_size // w.num_examples)),
        warmup_ratio=0.0,
        weight_decay=0.0,
        devices=1,
        num_nodes=1,
        strategy="auto",
    )


def ensure_reference(cfg: DriftConfig) -> str:
    """Return the reference policy's name or HF directory, warming it up (once) if configured."""
    if not cfg.model.warmup.enabled:
        return cfg.model.name_or_path
    if cfg.task.name != TaskSource.EMBEDDED:
        raise ConfigError("model.warmup.enabled is only supported with task=embedded")
    out = Path(cfg.paths.cache_dir) / f"reference-{reference_key(cfg)}"
    if (out / "config.json").exists():
        log.info("reusing reference policy %s", out)
        return str(out)
    log.info("warming up the reference policy -> %s", out)
    model, tokenizer = load_policy(cfg.model)
    w = cfg.model.warmup
    examples = warmup_examples(
        n=w.num_examples,
        seed=cfg.task.seed + 7919 * cfg.seed,
        num_candidates=cfg.task.num_candidates,
        feedback=cfg.task.feedback,
        multi_turn_fraction=w.multi_turn_fraction,
    )
    result = train_policy(
        model,
        tokenizer,
        examples,
        warmup_trainer(cfg),
        Normalize.MEAN,
        output_dir=out.with_name(out.name + ".work"),
        seed=cfg.seed,
    )
    export_hf(result.model, tokenizer, out)
    log.info("reference warm-up: %d steps in %.1f s", result.steps, result.wall_seconds)
    return str(out)
