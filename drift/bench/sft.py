"""Weighted SFT: the project's ``fit_sft`` against an HF ``Trainer`` with a weighted loss.

Both train a fresh copy of the same model (full fine-tuning) for one epoch over the same
examples, micro-batch and accumulation. The baseline is written the way the DRIFT-IW authors'
``src/weight_sft.py`` does it: right-padded batches with ``labels`` (-100 outside the supervised
tokens) and per-example ``weights``, and a ``Trainer`` subclass whose ``compute_loss`` takes the
per-token cross-entropy, its mean per example, and the weighted mean over the batch. Their
gradient checkpointing is left off on both sides (it trades speed for memory). A third case
runs the project's fit on the same model with eager attention, against the default
(``model.attn_implementation``). Rates are tokens (non-padding) per second.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import PrinterCallback, Trainer, TrainingArguments

from drift.bench import models
from drift.bench.harness import BenchResult, Size, counting, interleave
from drift.config import TrainerConfig
from drift.data.chat import EncodedExample
from drift.enums import Normalize
from drift.training.fit import fit_sft
from drift.training.module import WeightedSFTModule

# examples, max length, micro-batch, effective batch
SHAPES: dict[Size, tuple[int, int, int, int]] = {
    Size.TINY: (16, 32, 4, 8),
    Size.SMALL: (128, 128, 8, 16),
    Size.FULL: (512, 1024, 8, 32),
}
LR = 1e-4


class WeightedSFTTrainer(Trainer):
    """The DRIFT-IW authors' trainer: a weighted mean of per-example mean token losses."""

    def compute_loss(
        self, model: torch.nn.Module, inputs: dict[str, Tensor], return_outputs: bool = False, **_
    ) -> Tensor | tuple[Tensor, Any]:
        weights = inputs.pop("weights")
        outputs = model(**inputs)
        logits, labels = outputs.logits, inputs["labels"]
        shift_logits = logits[:, :-1, :].contiguous()
        shift_labels = labels[:, 1:].contiguous()
        loss_fct = torch.nn.CrossEntropyLoss(reduction="none", ignore_index=-100)
        token_loss = loss_fct(
            shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1)
        ).view(shift_labels.size())
        mask = (shift_labels != -100).float()
        per_sample_loss = (token_loss * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        weights = weights.to(per_sample_loss.device).to(per_sample_loss.dtype)
        loss = (per_sample_loss * weights).mean()
        return (loss, outputs) if return_outputs else loss


def collate_weighted(features: Sequence[dict[str, Any]], pad_id: int) -> dict[str, Tensor]:
    """Right-padded ``input_ids``, ``attention_mask``, ``labels``, ``weights`` (the authors')."""
    width = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), width), pad_id)
    labels = torch.full((len(features), width), -100)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    for i, f in enumerate(features):
        n = len(f["input_ids"])
        ids[i, :n] = torch.tensor(f["input_ids"])
        mask[i, :n] = 1
        supervised = torch.tensor(f["loss_mask"], dtype=torch.bool)
        labels[i, :n] = torch.where(supervised, ids[i, :n], -100)
    weights = torch.tensor([f["weight"] for f in features], dtype=torch.float32)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels, "weights": weights}


def drift_fit(
    base: torch.nn.Module, examples: list[EncodedExample], cfg: TrainerConfig, out: Path
) -> None:
    """One epoch of the project's weighted SFT on a copy of ``base``."""
    module = WeightedSFTModule(copy.deepcopy(base), cfg)
    fit_sft(module, examples, 0, Normalize.mean, out, seed=0, progress=False)


def hf_fit(
    base: torch.nn.Module, examples: list[EncodedExample], cfg: TrainerConfig, out: Path
) -> None:
    """One epoch of the HF ``Trainer`` baseline on a copy of ``base``."""
    gpu = cfg.accelerator == "gpu"
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=cfg.micro_batch_size,
        gradient_accumulation_steps=cfg.accumulate_grad_batches,
        num_train_epochs=1,
        learning_rate=cfg.lr,
        lr_scheduler_type="constant",
        max_grad_norm=cfg.grad_clip,
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        use_cpu=not gpu,
        bf16=gpu,
        seed=0,
    )
    data = [vars(ex) for ex in examples]
    trainer = WeightedSFTTrainer(
        model=copy.deepcopy(base),
        args=args,
        train_dataset=data,
        data_collator=partial(collate_weighted, pad_id=0),
    )
    trainer.remove_callback(PrinterCallback)  # its end-of-training line, with disable_tqdm
    trainer.train()


def run(size: Size, repeats: int) -> BenchResult:
    """The project's fit and the HF Trainer interleaved at ``size``."""
    n, seq, micro, effective = SHAPES[Size(size)]
    base, tokenizer = models.build(size)
    gpu = models.device().type == "cuda"
    cfg = TrainerConfig(
        micro_batch_size=micro,
        effective_batch_size=effective,
        lr=LR,
        accelerator="gpu" if gpu else "cpu",
        precision="bf16-mixed" if gpu else "32-true",
        max_length=seq,
    )
    examples = models.random_examples(n, seq, len(tokenizer))
    tokens = sum(len(ex.input_ids) for ex in examples)
    for name in ("lightning.pytorch", "lightning.fabric", "transformers.trainer"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        eager = copy.deepcopy(base)
        eager.set_attn_implementation("eager")
        fits = {
            "drift fit_sft": (drift_fit, base),
            "HF Trainer": (hf_fit, base),
            "drift fit_sft, eager attention": (drift_fit, eager),
        }
        cases = {
            name: counting(partial(fit, model, examples, cfg, Path(tmp) / name), tokens)
            for name, (fit, model) in fits.items()
        }
        seconds, units = interleave(cases, repeats)
    shape = models.shape(Size(size))
    return BenchResult(
        name="sft",
        size=str(size),
        unit="tokens/s",
        setting={
            "model": f"{shape.architecture.value} h{shape.hidden_size}x{shape.num_layers}",
            "examples": n,
            "length": f"{seq // 2}-{seq}",
            "batch": f"{micro}x{cfg.accumulate_grad_batches}",
            "precision": cfg.precision,
            "device": str(models.device()),
        },
        seconds=seconds,
        units=units,
        comparisons=[
            ("drift fit_sft", "HF Trainer"),
            ("drift fit_sft", "drift fit_sft, eager attention"),
        ],
    )
