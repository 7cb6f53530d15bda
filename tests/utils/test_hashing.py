import os
import subprocess
import sys
from dataclasses import dataclass

from drift.config import DriftConfig
from drift.utils.hashing import config_hash


@dataclass
class _Part:
    a: int = 1
    b: tuple[str, ...] = ("x",)


def test_equal_configs_share_a_key_and_any_field_changes_it():
    assert config_hash(_Part(), 3) == config_hash(_Part(), 3)
    assert config_hash(_Part(a=2), 3) != config_hash(_Part(), 3)
    assert config_hash(_Part(b=("y",)), 3) != config_hash(_Part(), 3)
    assert config_hash(_Part(), 4) != config_hash(_Part(), 3)


def test_dict_key_order_does_not_change_the_key():
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})


def test_a_new_run_config_field_at_its_default_is_keyed():
    # keys hold every field (the scheme constant in drift.pipeline.cache_keys marks key changes)
    cfg = DriftConfig()
    base = config_hash(cfg.trainer)
    cfg.trainer.truncation = type(cfg.trainer.truncation)("left")
    assert config_hash(cfg.trainer) != base


KEY_OF_THE_DEFAULTS = (
    "from drift.config import DriftConfig; from drift.utils.hashing import config_hash; "
    "c = DriftConfig(); print(config_hash(c.task, c.model, c.rollout, c.reward, c.trainer))"
)


def test_a_key_is_the_same_in_another_interpreter():
    cfg = DriftConfig()
    here = config_hash(cfg.task, cfg.model, cfg.rollout, cfg.reward, cfg.trainer)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # str() of a set would differ across runs
    out = subprocess.run(
        [sys.executable, "-c", KEY_OF_THE_DEFAULTS], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == here
