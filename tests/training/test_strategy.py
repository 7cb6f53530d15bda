"""The ``trainer=ddp|fsdp|deepspeed`` presets compose with the paper setting into Lightning
strategies (the parts that need a GPU or the deepspeed package are skipped without them)."""

import importlib.util

import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, FSDPStrategy
from torch.distributed.fsdp import ShardingStrategy
from torch.distributed.fsdp.wrap import ModuleWrapPolicy
from transformers import Qwen2Config, Qwen2ForCausalLM
from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer

from drift.config import ConfigError, load_config
from drift.training.fit import build_trainer
from drift.training.strategy import build_strategy

PAPER = ["experiment=drift_iw_paper"]
HAS_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None


def _qwen() -> Qwen2ForCausalLM:
    """A small Qwen2 on the meta device: the paper model's classes, no memory."""
    with torch.device("meta"):
        config = Qwen2Config(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
        return Qwen2ForCausalLM(config)


def test_ddp_preset_builds_a_two_process_cpu_trainer(compose_cfg, tmp_path):
    cfg = load_config(compose_cfg(["trainer=ddp"])).trainer
    trainer = build_trainer(cfg, tmp_path, progress=False)
    assert isinstance(trainer.strategy, DDPStrategy) and trainer.num_devices == 2
    assert trainer.accumulate_grad_batches == cfg.effective_batch_size // (2 * 32)


def test_fsdp_preset_shards_fully_one_unit_per_decoder_layer(compose_cfg, tmp_path):
    cfg = load_config(compose_cfg([*PAPER, "trainer=fsdp"])).trainer
    assert (cfg.strategy, cfg.accelerator, cfg.precision) == ("fsdp", "gpu", "bf16-mixed")
    assert (cfg.micro_batch_size, cfg.effective_batch_size, cfg.lr) == (4, 128, 5e-6)  # paper
    strategy = build_strategy(cfg, _qwen())
    assert isinstance(strategy, FSDPStrategy)
    assert strategy.sharding_strategy == ShardingStrategy.FULL_SHARD
    policy = strategy.kwargs["auto_wrap_policy"]
    assert isinstance(policy, ModuleWrapPolicy) and policy._module_classes == {Qwen2DecoderLayer}
    assert strategy.kwargs["use_orig_params"] and strategy._state_dict_type == "full"
    assert not strategy._activation_checkpointing_kwargs and not strategy.cpu_offload.offload_params

    more = ["trainer.fsdp.activation_checkpointing=true", "trainer.fsdp.cpu_offload=true"]
    cfg = load_config(compose_cfg([*PAPER, "trainer=fsdp", *more])).trainer
    strategy = build_strategy(cfg, _qwen())
    assert strategy._activation_checkpointing_kwargs and strategy.cpu_offload.offload_params
    if torch.cuda.is_available():  # on a GPU machine the Trainer takes it as it is
        trainer = build_trainer(cfg, tmp_path, progress=False, model=_qwen())
        assert isinstance(trainer.strategy, FSDPStrategy)


def test_fsdp_refuses_mixed_precision_on_tied_float32_weights(compose_cfg):
    cfg = load_config(compose_cfg(["trainer=fsdp"])).trainer  # bf16-mixed
    model = _qwen()
    model.lm_head.weight = model.model.embed_tokens.weight  # tied, float32
    with pytest.raises(ConfigError, match=r"trainer.precision=bf16-mixed.*model.dtype=bfloat16"):
        build_strategy(cfg, model)
    assert isinstance(build_strategy(cfg, model.to(torch.bfloat16)), FSDPStrategy)


def test_fsdp_settings_are_checked_with_the_key_named(compose_cfg):
    with pytest.raises(ConfigError, match=r"trainer.fsdp.sharding_strategy"):
        load_config(compose_cfg(["trainer=fsdp", "trainer.fsdp.sharding_strategy=ALL"]))
    with pytest.raises(ConfigError, match=r"trainer.fsdp.state_dict_type"):
        load_config(compose_cfg(["trainer=fsdp", "trainer.fsdp.state_dict_type=local"]))
    cfg = load_config(compose_cfg(["trainer=fsdp", "trainer.fsdp.wrap_layers=[LlamaBlock]"]))
    with pytest.raises(ConfigError, match=r"trainer.fsdp.wrap_layers.*LlamaBlock"):
        build_strategy(cfg.trainer, _qwen())


def test_deepspeed_preset_is_zero3_in_bf16(compose_cfg):
    cfg = load_config(compose_cfg([*PAPER, "trainer=deepspeed"])).trainer
    assert cfg.strategy == "deepspeed" and cfg.deepspeed.stage == 3
    assert cfg.precision == "bf16-mixed" and cfg.micro_batch_size == 4
    with pytest.raises(ConfigError, match=r"trainer.deepspeed.stage"):
        load_config(compose_cfg(["trainer=deepspeed", "trainer.deepspeed.stage=4"]))
    with pytest.raises(ConfigError, match=r"trainer.deepspeed.offload_parameters"):
        overrides = ["trainer.deepspeed.stage=2", "trainer.deepspeed.offload_parameters=true"]
        load_config(compose_cfg(["trainer=deepspeed", *overrides]))


@pytest.mark.skipif(HAS_DEEPSPEED, reason="deepspeed is installed")
def test_deepspeed_without_the_package_names_the_key(compose_cfg):
    cfg = load_config(compose_cfg([*PAPER, "trainer=deepspeed"])).trainer
    with pytest.raises(ConfigError, match=r"trainer.strategy=deepspeed needs the deepspeed"):
        build_strategy(cfg)


def test_deepspeed_strategy_object(compose_cfg):
    pytest.importorskip("deepspeed", reason="building DeepSpeedStrategy needs deepspeed")
    cfg = load_config(compose_cfg([*PAPER, "trainer=deepspeed"])).trainer
    strategy = build_strategy(cfg)
    assert isinstance(strategy, DeepSpeedStrategy) and strategy.zero_stage_3
    assert strategy.config["zero_optimization"]["stage"] == 3
    assert strategy.config["train_micro_batch_size_per_gpu"] == 4
