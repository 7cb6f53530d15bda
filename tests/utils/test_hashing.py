import dataclasses
import json
from dataclasses import dataclass, field

from drift.config import DriftConfig
from drift.utils.hashing import NEW_KEY, _plain, config_hash


@dataclass
class _Old:
    a: int = 1
    b: tuple[str, ...] = ("x",)


@dataclass
class _New(_Old):
    c: int | None = field(default=None, metadata={NEW_KEY: True})


def test_a_new_key_at_its_default_keeps_the_old_cache_key():
    assert config_hash(_New(), 3) == config_hash(_Old(), 3)
    assert config_hash(_New(c=42), 3) != config_hash(_Old(), 3)


def test_the_run_configs_keep_the_keys_they_had_before_their_new_keys():
    # computed at commit 8904fef, before task.sample_seed and trainer.truncation existed
    cfg = DriftConfig()
    assert config_hash(cfg.task, cfg.trainer, cfg.reward, cfg.model) == "0abcef678302"
    payload = json.dumps(dataclasses.asdict(cfg.rollout), sort_keys=True, default=str)
    assert json.dumps(_plain(cfg.rollout), sort_keys=True, default=str) == payload
