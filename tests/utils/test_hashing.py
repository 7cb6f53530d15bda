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
