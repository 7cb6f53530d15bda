import pytest

from drift.config import load_config
from drift.errors import ConfigError
from drift.models.config import LoraConfig, ModelConfig, TinyModelConfig, WarmupConfig


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: TinyModelConfig(hidden_size=0), "model.tiny.hidden_size"),
        (lambda: TinyModelConfig(hidden_size=64, num_heads=3), "model.tiny.hidden_size"),
        (lambda: TinyModelConfig(num_heads=4, num_kv_heads=3), "model.tiny.num_kv_heads"),
        (lambda: LoraConfig(r=0), "model.lora.r"),
        (lambda: WarmupConfig(multi_turn_steps=-1), "model.warmup.multi_turn_steps"),
        (lambda: WarmupConfig(multi_turn_fraction=1.5), "model.warmup.multi_turn_fraction"),
    ],
)
def test_bad_model_values_name_their_key(make, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make()


def test_tiny_is_the_default_and_named_models_are_not():
    assert ModelConfig().is_tiny
    assert not ModelConfig(name_or_path="Qwen/Qwen2.5-0.5B-Instruct").is_tiny


def test_composed_model_group_reaches_the_dataclasses(compose_cfg):
    cfg = load_config(compose_cfg(["+model.lora.r=4", "model.warmup.steps=10"]))
    assert isinstance(cfg.model, ModelConfig)
    assert cfg.model.lora is not None and cfg.model.lora.r == 4
    assert cfg.model.warmup.steps == 10
