import csv
import logging

import pytest
import torch
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import CSVLogger

from drift.config import Normalize, Schedule, TrainerConfig
from drift.data.chat import encode_examples
from drift.data.token_store import TokenWriter
from drift.data.tokenizer import build_char_tokenizer
from drift.training.data import pad_examples
from drift.training.fit import StepLogLines, build_trainer, fit_sft, train_policy
from drift.training.loss import weighted_sft_loss
from drift.training.module import WeightedSFTModule
from drift.types import TrainExample


def _examples(n: int) -> list[TrainExample]:
    out = []
    for i in range(n):
        digits = [str((i + k) % 10) for k in range(4)]
        messages = [
            {"role": "user", "content": " ".join(digits) + " odd"},
            {"role": "assistant", "content": f"<answer>{digits[i % 4]}</answer>"},
        ]
        out.append(TrainExample(f"ex-{i}", messages, weight=(0.5, 1.0, 2.0)[i % 3]))
    return out


def _mean_loss(model, encoded, pad_id):
    batch = pad_examples(encoded, pad_id)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        w = batch["weights"]
        return weighted_sft_loss(logits, batch["input_ids"], batch["loss_mask"], w, w.sum()).item()


def test_train_policy_learns_logs_and_drops_its_checkpoint(make_model, tmp_path):
    tok = build_char_tokenizer()
    model = make_model(vocab_size=len(tok))
    examples = _examples(16)
    encoded = encode_examples(tok, examples, 64)
    before = _mean_loss(model, encoded, tok.pad_token_id)
    cfg = TrainerConfig(
        micro_batch_size=4,
        effective_batch_size=8,
        max_epochs=10,
        lr=1e-2,
        warmup_ratio=0.1,
        schedule=Schedule.cosine,
        log_every_n_steps=1,
    )
    logger = CSVLogger(tmp_path / "logs", name="", version="")
    result = train_policy(
        model, tok, examples, cfg, Normalize.weight_sum, tmp_path, seed=0, loggers=[logger]
    )
    assert result.model is model and result.steps == 20 and result.wall_seconds > 0
    assert result.final_loss < 0.7 * before
    assert _mean_loss(model, encoded, tok.pad_token_id) < 0.7 * before
    assert not (tmp_path / "checkpoints").exists()  # trainer.keep_checkpoints=false
    assert not list(tmp_path.glob(".tokens-*"))  # the memory-mapped token store is gone
    with open(tmp_path / "logs" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("train/loss")]
    assert len(rows) == 20  # one row per optimiser step, not per micro-batch
    lrs = [float(r["train/lr"]) for r in rows]
    assert lrs[:3] == pytest.approx([0.0, 0.5e-2, 1e-2]) and lrs[-1] < 1e-3  # HF's warm-up


def test_keep_checkpoints_keeps_lightnings_checkpoint(make_model, tmp_path):
    tok = build_char_tokenizer()
    cfg = TrainerConfig(micro_batch_size=4, effective_batch_size=8, keep_checkpoints=True)
    train_policy(
        make_model(vocab_size=len(tok)), tok, _examples(8), cfg, Normalize.mean, tmp_path, 0
    )
    assert len(list((tmp_path / "checkpoints").glob("*.ckpt"))) == 1


def test_train_policy_rejects_empty_input(make_model, tmp_path):
    with pytest.raises(ValueError, match="no examples"):
        train_policy(
            make_model(), build_char_tokenizer(), [], TrainerConfig(), Normalize.mean, tmp_path, 0
        )


def test_a_memory_mapped_store_trains_as_the_list_of_examples(make_model, tmp_path):
    tok = build_char_tokenizer()
    encoded = encode_examples(tok, _examples(12), 64)
    cfg = TrainerConfig(micro_batch_size=2, effective_batch_size=4, max_epochs=2, lr=1e-2)
    writer = TokenWriter(tmp_path / "tokens")
    writer.add(encoded)
    runs = []
    for examples in (encoded, writer.finish()):
        module = WeightedSFTModule(make_model(vocab_size=len(tok)), cfg)
        result = fit_sft(
            module, examples, tok.pad_token_id, Normalize.weight_sum, tmp_path, 0, progress=False
        )
        runs.append((result.final_loss, [p.detach().clone() for p in result.model.parameters()]))
    (loss_a, params_a), (loss_b, params_b) = runs
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(params_a, params_b, strict=True))


def test_plain_log_lines_off_a_tty(make_model, make_examples, tmp_path, caplog):
    cfg = TrainerConfig(micro_batch_size=2, effective_batch_size=4, max_epochs=1, grad_clip=0)
    trainer = build_trainer(cfg, tmp_path, progress=True)  # pytest's stderr is not a TTY
    assert not any(isinstance(c, RichProgressBar) for c in trainer.callbacks)
    assert any(isinstance(c, StepLogLines) for c in trainer.callbacks)
    with caplog.at_level(logging.INFO, logger="drift.training.fit"):
        fit_sft(
            WeightedSFTModule(make_model(), cfg), make_examples(8), 0, Normalize.mean, tmp_path, 0
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "drift.training.fit"]
    assert len(lines) == 2
    assert lines[0].startswith("train step 1/2 loss ") and lines[1].startswith(
        "train step 2/2 loss "
    )


def test_rich_progress_bar_and_log_lines_on_a_tty(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    trainer = build_trainer(TrainerConfig(), tmp_path, progress=True)
    assert any(isinstance(c, RichProgressBar) for c in trainer.callbacks)
    assert any(isinstance(c, StepLogLines) for c in trainer.callbacks)  # for the log file
    quiet = build_trainer(TrainerConfig(), tmp_path, progress=False)
    assert not any(isinstance(c, (RichProgressBar, StepLogLines)) for c in quiet.callbacks)


def test_a_log_interval_longer_than_the_fit_is_a_warning(
    make_model, make_examples, tmp_path, caplog
):
    cfg = TrainerConfig(micro_batch_size=2, effective_batch_size=4, max_epochs=1, grad_clip=0)
    cfg.log_every_n_steps = 50
    logger = CSVLogger(tmp_path / "logs", name="", version="")
    with caplog.at_level(logging.WARNING, logger="drift.training.fit"):
        fit_sft(
            WeightedSFTModule(make_model(), cfg),
            make_examples(8),
            0,
            Normalize.mean,
            tmp_path,
            0,
            loggers=[logger],
            progress=False,
        )
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "trainer.log_every_n_steps=50 exceeds this fit's 2 optimiser steps" in warning
    caplog.clear()
    cfg.log_every_n_steps = 2
    with caplog.at_level(logging.WARNING, logger="drift.training.fit"):
        fit_sft(
            WeightedSFTModule(make_model(), cfg),
            make_examples(8),
            0,
            Normalize.mean,
            tmp_path,
            0,
            loggers=[CSVLogger(tmp_path / "logs2", name="", version="")],
            progress=False,
        )
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
