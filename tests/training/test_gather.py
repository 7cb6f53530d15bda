"""FSDP over two CPU processes (gloo): the same update as one process, gathered and exported once.

Lightning refuses FSDP on the CPU (``FSDPStrategy`` wants a GPU accelerator) and passes FSDP no
device for the CPU; a subclass skips that check and wraps with ``device_id=cpu``, so Lightning's
strategy, torch's sharding, gradient reduction and clipping and our gather of the full weights
on rank 0 run here with gloo. On a GPU the same path runs with NCCL.
"""

import pytest
import torch
from forked_ranks import run_ranks
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.strategies import FSDPStrategy
from sgd import SGDModule, rank_environment, reference_update
from torch.distributed.fsdp import FullStateDictConfig, FullyShardedDataParallel, StateDictType
from transformers import AutoModelForCausalLM

import drift.training.strategy as strategy_module
from drift.config import Normalize, load_config
from drift.data.tokenizer import build_char_tokenizer
from drift.models.factory import export_hf
from drift.training.fit import fit_sft
from drift.training.module import decay_groups, matrix_names

FULL_STATE_DICT = StateDictType.FULL_STATE_DICT
OVERRIDES = [
    "trainer=fsdp",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",
    "trainer.devices=2",
    "trainer.micro_batch_size=2",
    "trainer.effective_batch_size=8",
    "trainer.max_steps=1",
    "trainer.grad_clip=1000",  # exercises FSDP's own clip_grad_norm_ without changing the step
]


class CPUFSDP(FSDPStrategy):
    """Lightning checks ``type(strategy) is FSDPStrategy`` before refusing the CPU; the full
    state dict is gathered without ``offload_to_cpu`` (offloading CPU tensors crashes torch)."""

    def _setup_model(self, model):
        return FullyShardedDataParallel(
            model, sharding_strategy=self.sharding_strategy, device_id=torch.device("cpu"),
            **self.kwargs,
        )  # fmt: skip

    def lightning_module_state_dict(self):
        config = FullStateDictConfig(offload_to_cpu=False, rank0_only=True)
        with FullyShardedDataParallel.state_dict_type(self.model, FULL_STATE_DICT, config):
            return self.model.state_dict()


class DecayGroups(Callback):
    """Records, at fit start, how the module's AdamW groups would split the sharded params."""

    def on_train_start(self, trainer, pl_module):
        groups = decay_groups(pl_module.model, 0.1, pl_module._matrices)
        flat = all(p.ndim == 1 for p in pl_module.model.parameters())
        self.seen = ([len(g["params"]) for g in groups], flat)


def _worker(rank, cfg, tmp_path, port, make_model, make_examples):
    rank_environment(rank, 2, port)
    examples = make_examples(8, seed=1, empty=(3,))
    decay = DecayGroups()
    module = SGDModule(make_model(), cfg)
    result = fit_sft(
        module, examples, 0, Normalize.weight_sum, tmp_path / f"run{rank}", seed=0,
        progress=False, extra_callbacks=[decay],
    )  # fmt: skip
    export_hf(result.model, build_char_tokenizer(), tmp_path / "policy")
    params = [p.detach().cpu() for p in result.model.parameters()] if rank == 0 else []
    torch.save((params, result.final_loss, decay.seen), tmp_path / f"rank{rank}.pt")


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch without distributed")
def test_fsdp_two_ranks_give_the_same_update_and_export_full_weights(
    compose_cfg, make_model, make_examples, tmp_path, monkeypatch
):
    from lightning.fabric.plugins.environments.lightning import find_free_network_port

    cfg = load_config(compose_cfg(OVERRIDES)).trainer
    monkeypatch.setattr(strategy_module, "FSDPStrategy", CPUFSDP)  # inherited by the forks
    args = (cfg, tmp_path, find_free_network_port(), make_model, make_examples)
    run_ranks(_worker, args, "FSDP")

    examples = make_examples(8, seed=1, empty=(3,))
    model = make_model()
    names = [n for n, _ in model.named_parameters()]
    want, want_loss = reference_update(model, examples, Normalize.weight_sum)
    got, loss, _ = torch.load(tmp_path / "rank0.pt")
    assert loss == pytest.approx(want_loss.item(), rel=1e-6)
    for name, g, w in zip(names, got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-6, msg=name)
    exported = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "policy").named_parameters())
    for name, w in zip(names, want, strict=True):
        torch.testing.assert_close(exported[name], w, rtol=0, atol=1e-6, msg=name)
    matrices = len(matrix_names(model))
    for rank in range(2):
        _, _, (sizes, flat) = torch.load(tmp_path / f"rank{rank}.pt")
        assert flat  # FSDP shards are 1-D: telling matrices by shape would decay nothing
        assert sizes == [matrices, len(names) - matrices]


GPU_OVERRIDES = [
    "trainer.devices=1",
    "trainer.precision=32-true",
    "trainer.micro_batch_size=2",
    "trainer.effective_batch_size=8",
    "trainer.max_steps=1",
    "trainer.grad_clip=1000",
]


def _one_gpu_update(preset, compose_cfg, make_model, make_examples, tmp_path):
    """One SGD step on one GPU under ``preset`` (4 accumulated micro-batches), exported as HF:
    the exported weights must equal one full-batch step taken by hand."""
    cfg = load_config(compose_cfg([f"trainer={preset}", *GPU_OVERRIDES])).trainer
    assert cfg.accumulate_grad_batches == 4
    examples = make_examples(8, seed=1, empty=(3,))
    try:
        result = fit_sft(
            SGDModule(make_model(), cfg), examples, 0, Normalize.weight_sum, tmp_path, seed=0,
            progress=False,
        )  # fmt: skip
        export_hf(result.model, build_char_tokenizer(), tmp_path / "policy")
    finally:  # later tests fork processes that start their own groups
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    model = make_model()
    want, want_loss = reference_update(model, examples, Normalize.weight_sum)
    assert result.final_loss == pytest.approx(want_loss.item(), rel=1e-5)
    exported = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "policy").named_parameters())
    for (name, _), w in zip(model.named_parameters(), want, strict=True):
        torch.testing.assert_close(exported[name], w, rtol=0, atol=1e-5, msg=name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="FSDP needs a GPU")
def test_fsdp_on_a_gpu_exports_the_trained_weights(
    compose_cfg, make_model, make_examples, tmp_path
):
    _one_gpu_update("fsdp", compose_cfg, make_model, make_examples, tmp_path)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="DeepSpeed needs a GPU")
def test_deepspeed_zero3_on_a_gpu_exports_the_trained_weights(
    compose_cfg, make_model, make_examples, tmp_path
):
    pytest.importorskip("deepspeed")
    _one_gpu_update("deepspeed", compose_cfg, make_model, make_examples, tmp_path)
