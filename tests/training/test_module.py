import math

import pytest
import torch
from forked_ranks import run_ranks
from sgd import LR, SGDModule, rank_environment
from sgd import reference_update as _reference_update

from drift.config import Normalize, Schedule, TrainerConfig, load_config
from drift.training.data import pad_examples
from drift.training.fit import fit_sft
from drift.training.loss import weighted_sft_loss
from drift.training.module import WeightedSFTModule, decay_groups, lr_scheduler


def _lightning_update(model, examples, micro, normalize, tmp_path):
    cfg = TrainerConfig(micro_batch_size=micro, effective_batch_size=8, max_steps=1, grad_clip=0)
    assert cfg.accumulate_grad_batches == 8 // micro
    result = fit_sft(
        SGDModule(model, cfg), examples, 0, normalize, tmp_path, seed=0, progress=False
    )
    assert result.steps == 1
    return [p.detach() for p in result.model.parameters()], result


@pytest.mark.parametrize("normalize", [Normalize.mean, Normalize.weight_sum])
def test_same_update_for_any_micro_batch_and_accumulation(
    normalize, make_model, make_examples, tmp_path
):
    examples = make_examples(8, seed=1, empty=(3,))
    assert len({len(e.input_ids) for e in examples}) > 4
    want, loss = _reference_update(make_model(), examples, normalize)
    start = [p.detach().clone() for p in make_model().parameters()]
    for micro in (8, 4, 2):
        got, result = _lightning_update(
            make_model(), examples, micro, normalize, tmp_path / str(micro)
        )
        moved = max((g - s).abs().max().item() for g, s in zip(got, start, strict=True))
        assert moved > 1e-3  # the step did change the parameters
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=1e-6)
        assert result.final_loss == pytest.approx(loss.item(), rel=1e-6)  # the global objective


def test_per_micro_batch_normalisation_would_be_caught(make_model, make_examples):
    """Negative control: normalising each micro-batch by its own weight sum moves the update by
    far more than the 1e-6 tolerance above, so the test above can fail."""
    examples = make_examples(8, seed=1, empty=(3,))
    want, _ = _reference_update(make_model(), examples, Normalize.weight_sum)
    model = make_model()
    total = 0.0
    for chunk in (examples[:4], examples[4:]):
        batch = pad_examples(chunk, pad_id=0)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        w = batch["weights"]
        total = (
            total
            + weighted_sft_loss(logits, batch["input_ids"], batch["loss_mask"], w, w.sum()) / 2
        )
    grads = torch.autograd.grad(total, list(model.parameters()))
    naive = [(p - LR * g).detach() for p, g in zip(model.parameters(), grads, strict=True)]
    gap = max((a - b).abs().max().item() for a, b in zip(naive, want, strict=True))
    assert gap > 1e-4


def test_step_loss_is_logged_once_per_step(make_model, make_examples, tmp_path):
    examples = make_examples(16, seed=2)
    cfg = TrainerConfig(micro_batch_size=2, effective_batch_size=8, max_steps=2, grad_clip=0)
    module = SGDModule(make_model(), cfg)
    result = fit_sft(module, examples, 0, Normalize.mean, tmp_path, seed=0, progress=False)
    assert result.steps == 2
    assert module.trainer.callback_metrics["train/lr"].item() == pytest.approx(LR)
    assert module.trainer.callback_metrics["train/loss"].item() == pytest.approx(result.final_loss)
    assert 0 < result.final_loss < 10


def _old_factor(step: int, total: int, warmup: int, schedule: Schedule) -> float:
    """drift's hand-written schedule before transformers' (the numbers it gave, for comparison)."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == Schedule.constant:
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if schedule == Schedule.linear:
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _factors(schedule: Schedule, total: int, warmup: int) -> list[float]:
    """The rate multiplier of each optimiser step, stepping the scheduler as Lightning does."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=2.0)
    scheduler = lr_scheduler(optimizer, schedule, total, warmup)
    factors = []
    for _ in range(total):
        factors.append(optimizer.param_groups[0]["lr"] / 2.0)
        optimizer.step()
        scheduler.step()
    return factors


@pytest.mark.parametrize("schedule", list(Schedule))
def test_lr_schedule_step_by_step_against_the_old_numbers(schedule):
    """Without warm-up every step has the old rate; with warm-up every step from the end of the
    warm-up on, and warm-up step s has the old rate of step s - 1 (s / warmup, HF's warm-up)."""
    total = 10
    got = _factors(schedule, total, 0)
    assert got == pytest.approx([_old_factor(s, total, 0, schedule) for s in range(total)])
    got = _factors(schedule, total, 2)
    assert got[:2] == [0.0, 0.5]
    assert got[2:] == pytest.approx([_old_factor(s, total, 2, schedule) for s in range(2, total)])
    assert got[1] == _old_factor(0, total, 2, schedule)


def test_decay_groups_and_hparams(make_model):
    model = make_model()
    model.model.embed_tokens.weight.requires_grad_(False)
    decay, no_decay = decay_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(
        p.ndim == 1 for p in no_decay["params"]
    )
    assert all(p.requires_grad for p in decay["params"] + no_decay["params"])
    module = WeightedSFTModule(model, TrainerConfig(schedule=Schedule.cosine))
    assert module.hparams["trainer"]["schedule"] == "cosine"
    assert not any(isinstance(v, torch.nn.Module) for v in module.hparams["trainer"].values())


def _ddp_worker(rank, cfg, tmp_path, port, make_model, make_examples):
    """One of two externally launched ranks: Lightning's real DDP strategy over gloo."""
    rank_environment(rank, 2, port)
    examples = make_examples(8, seed=1, empty=(3,))
    module = SGDModule(make_model(), cfg)
    result = fit_sft(module, examples, 0, Normalize.weight_sum, tmp_path, seed=0, progress=False)
    params = [p.detach() for p in result.model.parameters()]
    torch.save((params, result.steps, result.final_loss), tmp_path / f"rank{rank}.pt")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed")
def test_ddp_two_ranks_give_the_same_update(compose_cfg, make_model, make_examples, tmp_path):
    """``trainer=ddp``: two forked processes (no re-import) join a gloo group; each gets half of
    every step, and the update equals one full-batch step in one process."""
    from lightning.fabric.plugins.environments.lightning import find_free_network_port

    overrides = ["micro_batch_size=2", "effective_batch_size=8", "max_steps=1", "grad_clip=0"]
    cfg = load_config(compose_cfg(["trainer=ddp", *(f"trainer.{o}" for o in overrides)])).trainer
    assert cfg.strategy == "ddp" and cfg.accelerator == "cpu" and cfg.devices == 2
    assert cfg.accumulate_grad_batches == 2
    args = (cfg, tmp_path, find_free_network_port(), make_model, make_examples)
    run_ranks(_ddp_worker, args, "DDP")
    examples = make_examples(8, seed=1, empty=(3,))
    want, want_loss = _reference_update(make_model(), examples, Normalize.weight_sum)
    for rank in range(2):
        got, steps, loss = torch.load(tmp_path / f"rank{rank}.pt")
        assert steps == 1 and loss == pytest.approx(want_loss.item(), rel=1e-6)
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=1e-6)
