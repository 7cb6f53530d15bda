"""Fit a policy with weighted SFT: encode examples, build the Lightning Trainer, run, return."""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, RichProgressBar
from torch import nn

from drift.config import Normalize, TrainerConfig
from drift.data.chat import EncodedExample
from drift.data.token_store import encode_to_store
from drift.training.data import SFTDataModule
from drift.training.gather import full_model
from drift.training.module import WeightedSFTModule
from drift.training.strategy import build_strategy
from drift.types import TrainExample

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """The trained HF model (the module's, not a copy) and a summary of the run.

    After a sharded fit (FSDP, DeepSpeed ZeRO-3) only global rank 0's model holds the full
    weights (:func:`drift.training.gather.full_model`); only rank 0 exports it.
    """

    model: nn.Module
    steps: int
    wall_seconds: float
    final_loss: float


class StepLogLines(Callback):
    """Log lines at about every 10% of the optimiser steps (the run's log file keeps them)."""

    def __init__(self) -> None:
        self._last = -1

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *_: Any
    ) -> None:
        step, total = trainer.global_step, int(trainer.estimated_stepping_batches)
        if step in (0, self._last) or not trainer.is_global_zero:
            return
        if step % max(1, total // 10) == 0 or step == total:
            self._last = step
            log.info("train step %d/%d loss %.4f", step, total, pl_module.last_loss)


class LogIntervalWarning(Callback):
    """Warns when ``trainer.log_every_n_steps`` exceeds the fit's optimiser steps, so that the
    loggers would get no point of the training curves."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        steps = int(trainer.estimated_stepping_batches)
        if trainer.loggers and trainer.is_global_zero and trainer.log_every_n_steps > steps:
            log.warning(
                "trainer.log_every_n_steps=%d exceeds this fit's %d optimiser steps: the "
                "loggers get no train/loss point (train/final_loss is logged at the end); set "
                "trainer.log_every_n_steps=%d or less to see the curve",
                trainer.log_every_n_steps,
                steps,
                max(1, steps),
            )


def build_trainer(
    cfg: TrainerConfig,
    output_dir: Path,
    loggers: list | None = None,
    progress: bool = True,
    extra_callbacks: Sequence[Callback] = (),
    model: nn.Module | None = None,
) -> pl.Trainer:
    """A Lightning Trainer for weighted SFT: our own step sampler, checkpoints under
    ``output_dir/checkpoints`` (deleted after the fit unless ``trainer.keep_checkpoints``), a
    Rich progress bar on a TTY and log lines about every 10% of the steps, a warning when the
    loggers would get no training point, plus ``extra_callbacks`` (e.g.
    the attribution warm-up's optimiser-state snapshots).
    ``model`` (the HF model to train) is needed by ``trainer.strategy=fsdp``."""
    tty = progress and sys.stderr.isatty()
    callbacks: list[Callback] = [ModelCheckpoint(dirpath=Path(output_dir) / "checkpoints")]
    callbacks.extend(extra_callbacks)
    if loggers:
        callbacks.append(LogIntervalWarning())
    if tty:
        callbacks.append(RichProgressBar())
    if progress:  # on a TTY too: the lines go through logging, into the run's log file
        callbacks.append(StepLogLines())
    return pl.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=build_strategy(cfg, model),
        precision=cfg.precision,
        max_epochs=cfg.max_epochs,
        max_steps=cfg.max_steps,
        accumulate_grad_batches=cfg.accumulate_grad_batches,
        gradient_clip_val=cfg.grad_clip or None,
        log_every_n_steps=cfg.log_every_n_steps,
        use_distributed_sampler=False,
        enable_checkpointing=True,
        enable_progress_bar=tty,
        enable_model_summary=False,
        logger=loggers or False,
        default_root_dir=output_dir,
        callbacks=callbacks,
    )


def fit_sft(
    module: WeightedSFTModule,
    examples: Sequence[EncodedExample],
    pad_id: int,
    normalize: Normalize,
    output_dir: Path,
    seed: int,
    loggers: list | None = None,
    progress: bool = True,
    extra_callbacks: Sequence[Callback] = (),
    shuffle: bool = True,
) -> TrainResult:
    """Fit ``module`` (its ``config`` gives the trainer settings) on encoded examples, in a
    seeded shuffle or (``shuffle=False``) in their order."""
    cfg = module.config
    pl.seed_everything(seed, verbose=False)
    data = SFTDataModule(
        examples, cfg.effective_batch_size, normalize, seed, pad_id, cfg.num_workers, shuffle
    )
    trainer = build_trainer(cfg, output_dir, loggers, progress, extra_callbacks, module.model)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - start
    if not cfg.keep_checkpoints and trainer.is_global_zero:
        # Full fine-tuning's checkpoint is ~3x the model (AdamW's two moments): 1.6 GB per
        # method for SmolLM2-135M, while the caller exports the policy it needs.
        shutil.rmtree(Path(output_dir) / "checkpoints", ignore_errors=True)
    model = full_model(trainer, module)
    return TrainResult(model, trainer.global_step, seconds, module.last_loss)


def train_policy(
    model: nn.Module,
    tokenizer: Any,
    examples: Iterable[TrainExample],
    trainer: TrainerConfig,
    normalize: Normalize,
    output_dir: Path,
    seed: int,
    loggers: list | None = None,
    progress: bool = True,
    extra_callbacks: Sequence[Callback] = (),
    shuffle: bool = True,
) -> TrainResult:
    """Weighted SFT of ``model`` on ``examples`` (encoded with ``tokenizer``'s chat template),
    shuffled or in their order (:func:`fit_sft`).

    The examples (any iterable: a generator is consumed once) are encoded a chunk at a time
    into a token store memory-mapped from a temporary directory in ``output_dir``, removed after
    the fit.
    """
    pad_id = tokenizer.pad_token_id
    if pad_id is None:  # any valid id will do: padding is masked explicitly
        pad_id = tokenizer.eos_token_id or 0
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tokens-", dir=output_dir) as tokens:
        encoded = encode_to_store(
            tokenizer, examples, trainer.max_length, Path(tokens), truncation=trainer.truncation
        )
        if not len(encoded):
            raise ValueError("train_policy got no examples")
        module = WeightedSFTModule(model, trainer)
        return fit_sft(
            module,
            encoded,
            pad_id,
            normalize,
            output_dir,
            seed,
            loggers,
            progress,
            extra_callbacks,
            shuffle,
        )
