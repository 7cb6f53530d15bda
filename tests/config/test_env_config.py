"""env: the protocol group composes, validates, and bad values name their key."""

import re

import pytest
from config_refusal import refused

from drift.config import EnvConfig, Protocol, load_config


def test_oracle_is_the_default_and_intrinsic_is_one_override(compose_cfg):
    assert load_config(compose_cfg([])).env == EnvConfig()
    assert EnvConfig().protocol == Protocol.oracle
    env = load_config(compose_cfg(["env.protocol=intrinsic", "env.shaping_alpha=10"])).env
    assert (env.protocol, env.shaping_alpha) == (Protocol.intrinsic, 10.0)
    assert env.instruction == EnvConfig().instruction


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["env.protocol=self"], "env.protocol"),
        (["env.shaping_alpha=-1"], "env.shaping_alpha"),
        (["env.protocol=intrinsic", "env.instruction=' '"], "env.instruction"),
        (["objective=acc@t6"], "objective"),  # beyond task.max_turns=5
    ],
)
def test_bad_values_name_their_key(compose_cfg, overrides, key):
    with refused(re.escape(key)):
        load_config(compose_cfg(overrides))


def test_an_empty_instruction_is_allowed_where_it_is_not_used():
    assert EnvConfig(instruction="").protocol == Protocol.oracle


def test_the_objective_may_be_a_per_turn_accuracy_or_a_change(compose_cfg):
    for objective in ("acc@t5", "sampled/acc@t1", "delta", "delta_i2c"):
        assert load_config(compose_cfg([f"objective={objective}"])).objective == objective
