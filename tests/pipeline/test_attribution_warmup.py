"""The attribution warm-up's snapshots need whole parameters and optimiser states."""

from types import SimpleNamespace

import pytest
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy

from drift.config import ConfigError, TrainerConfig
from drift.pipeline.attribution_warmup import AdamSnapshots


def test_snapshots_refuse_a_sharding_strategy(tmp_path):
    snapshots = AdamSnapshots([1], tmp_path)
    module = SimpleNamespace(config=TrainerConfig(strategy="fsdp"))
    with pytest.raises(ConfigError, match=r"trainer.strategy=fsdp.*trainer=ddp"):
        snapshots.on_fit_start(SimpleNamespace(strategy=FSDPStrategy()), module)
    snapshots.on_fit_start(SimpleNamespace(strategy=DDPStrategy()), module)  # replicated: fine
