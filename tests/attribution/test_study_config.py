"""Study settings: defaults are valid, bad values name their key."""

import pytest

from drift.attribution.study_config import TASK_KINDS, CorruptionKind, StudyConfig
from drift.config import ConfigError


def test_defaults_plant_every_kind_of_the_embedded_pool():
    cfg = StudyConfig()
    assert set(cfg.corruption) == {k.value for k in TASK_KINDS["embedded"]}
    assert {k for kinds in TASK_KINDS.values() for k in kinds} == set(CorruptionKind)
    assert 0 < sum(cfg.corruption.values()) < 1 and cfg.num_queries >= 64


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"pool_size": 0}, "study.pool_size"),
        ({"keep_fraction": 0.0}, "study.keep_fraction"),
        ({"warmup_fraction": 1.5}, "study.warmup_fraction"),
        ({"corruption": {"typo": 0.1}}, "study.corruption.typo"),
        ({"corruption": {"format": -0.1}}, "study.corruption.format"),
        ({"corruption": {"format": 0.6, "repeat": 0.4}}, "study.corruption"),
        ({"debias_ablation": ["l2"]}, "study.debias_ablation"),
        ({"warmup_epochs": 0}, "study.warmup_epochs"),
    ],
)
def test_bad_values_name_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        StudyConfig(**kwargs)
