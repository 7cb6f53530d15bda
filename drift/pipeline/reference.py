"""The reference policy: a HF model as given, or the tiny model warmed up on the embedded task."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

from drift.config import ConfigError, DriftConfig, Normalize, Protocol, TaskSource, TrainerConfig
from drift.data.embedded import warmup_examples
from drift.models.factory import export_hf, load_policy
from drift.pipeline.cache_keys import cache_key, work_dir, write_entry_config
from drift.training.fit import train_policy
from drift.utils.manifest import reusable

log = logging.getLogger(__name__)

WARMUP_VERSION = "warmup-v2"  # v2: single-turn phase, then multi-turn phase
INTRINSIC_KEEP_FRACTION = 0.5
"""Under the intrinsic protocol, the share of the warm-up's multi-turn conversations whose first
answer is right and kept after each instruction (the rest correct wrong ones): about how often a
model at the embedded task's ceiling (acc@1 ≈ .49) is right at its first attempt."""


def warmup_user_turn(cfg: DriftConfig) -> tuple[str, float]:
    """The user turn between the answers of the warm-up's multi-turn conversations, and the
    share of them whose earlier answers are the right one, kept
    (:func:`~drift.data.embedded.warmup_examples`): the oracle's feedback after wrong answers
    only, or the intrinsic protocol's instruction, after right answers as after wrong ones, so
    that the reference has seen the instruction it will be given (README, "Protocols")."""
    if cfg.env.protocol == Protocol.oracle:
        return cfg.task.feedback, 0.0
    return cfg.env.instruction, INTRINSIC_KEEP_FRACTION


WARMUP_TRAINER_KEYS = ("schedule", "grad_clip", "precision", "max_length", "truncation")
"""The ``trainer`` settings a warm-up keeps from the run's (:func:`warmup_trainer` sets the
others from ``model.warmup``)."""


def reference_config(cfg: DriftConfig) -> dict[str, Any]:
    """What the reference policy depends on: the model and seed, and for a warm-up its
    settings, the train split it draws from, the user turn it shows and the trainer settings
    it keeps. Not the task's sizes: the warm-up draws ``model.warmup.num_examples`` of its own."""
    m = cfg.model
    if not m.warmup.enabled:
        model = {"name_or_path": m.name_or_path, "dtype": m.dtype, "tiny": m.tiny}
        return {"artifact": "reference", "model": model, "seed": cfg.seed}
    user_turn, keep_fraction = warmup_user_turn(cfg)
    return {
        "artifact": "reference",
        "warmup_version": WARMUP_VERSION,
        "model": dataclasses.asdict(m),
        "train_split": {k: getattr(cfg.task, k) for k in ("name", "seed", "num_candidates")},
        "user_turn": user_turn,
        "keep_fraction": keep_fraction,
        "trainer": {k: getattr(cfg.trainer, k) for k in WARMUP_TRAINER_KEYS},
        "seed": cfg.seed,
    }


def reference_key(cfg: DriftConfig) -> str:
    """Hash of :func:`reference_config`."""
    return cache_key(reference_config(cfg))


def warmup_trainer(cfg: DriftConfig, steps: int) -> TrainerConfig:
    """Trainer settings of a warm-up phase of ``steps`` steps, derived from ``model.warmup``."""
    w = cfg.model.warmup
    return dataclasses.replace(
        cfg.trainer,
        lr=w.lr,
        micro_batch_size=w.batch_size,
        effective_batch_size=w.batch_size,
        max_steps=steps,
        max_epochs=max(1, -(-steps * w.batch_size // w.num_examples)),
        warmup_ratio=0.0,
        weight_decay=0.0,
        devices=1,
        num_nodes=1,
        strategy="auto",
    )


def ensure_reference(cfg: DriftConfig) -> str:
    """Return the reference policy's name or HF directory.

    A model built from a config (``model.name_or_path: tiny``) is built once, warmed up if
    configured, and cached in HF format, so every stage and method starts from the same weights;
    a GGUF model (``model.gguf_file``) is converted once to an HF directory in the cache. A
    cached directory whose files do not match its manifest is rebuilt, with a warning.
    """
    if cfg.model.gguf_file is not None:
        from drift.models.gguf import ensure_gguf_export

        return str(
            ensure_gguf_export(cfg.model.name_or_path, cfg.model.gguf_file, cfg.paths.cache_dir)
        )
    if not cfg.model.is_tiny:
        return cfg.model.name_or_path
    if cfg.model.warmup.enabled and cfg.task.name != TaskSource.embedded:
        raise ConfigError("model.warmup.enabled is only supported with task=embedded")
    out = Path(cfg.paths.cache_dir) / f"reference-{reference_key(cfg)}"
    if reusable(out, "reference policy"):
        log.info("reusing reference policy %s", out)
        return str(out)
    model, tokenizer = load_policy(cfg.model)
    if cfg.model.warmup.enabled:
        log.info("warming up the reference policy -> %s", out)
        model = _warm_up(cfg, model, tokenizer, work_dir(out, cfg))
    else:
        log.info("built the reference policy from model.tiny -> %s", out)
    export_hf(model, tokenizer, out)
    write_entry_config(out, reference_config(cfg))
    return str(out)


def _warm_up(cfg: DriftConfig, model: Any, tokenizer: Any, work: Path) -> Any:
    """``model`` after the warm-up's phases (fitted in ``work``, removed at the end)."""
    w = cfg.model.warmup
    user_turn, keep_fraction = warmup_user_turn(cfg)
    phases = [
        ("single_turn", w.steps, 0.0),
        ("multi_turn", w.multi_turn_steps, w.multi_turn_fraction),
    ]
    for phase, steps, fraction in phases:
        if steps == 0:
            continue
        examples = warmup_examples(
            n=w.num_examples,
            seed=cfg.task.seed + 7919 * cfg.seed,
            num_candidates=cfg.task.num_candidates,
            feedback=user_turn,
            multi_turn_fraction=fraction,
            keep_fraction=keep_fraction,
        )
        result = train_policy(
            model,
            tokenizer,
            examples,
            warmup_trainer(cfg, steps),
            Normalize.mean,
            output_dir=work / phase,
            seed=cfg.seed,
        )
        model = result.model
        log.info("reference warm-up, %s: %d steps in %.1f s", phase, steps, result.wall_seconds)
    shutil.rmtree(work, ignore_errors=True)  # the fits' checkpoints and logs
    return model
