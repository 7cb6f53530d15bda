import pytest

from drift.attribution.layers import layer_shapes, select_layers
from drift.config import ConfigError


def test_default_plain_model_takes_block_linears_not_the_head(plain_model):
    shapes = layer_shapes(select_layers(plain_model))
    assert len(shapes) == 14 and "lm_head" not in shapes
    assert shapes["model.layers.0.mlp.down_proj"] == (32, 64)


def test_default_lora_model_takes_only_the_factors(lora_model):
    names = list(select_layers(lora_model))
    assert len(names) == 16 and all(".lora_A." in n or ".lora_B." in n for n in names)
    assert names[0].endswith("layers.0.self_attn.q_proj.lora_A.default")


def test_patterns_select_by_regex(lora_model):
    names = list(
        select_layers(lora_model, [r"v_proj\.base_layer$", r"layers\.1\..*o_proj\.lora_B"])
    )
    assert len(names) == 3


def test_no_match_is_a_config_error(plain_model):
    with pytest.raises(ConfigError, match=r"attribution\.layers"):
        select_layers(plain_model, ["nothing_like_this"])
