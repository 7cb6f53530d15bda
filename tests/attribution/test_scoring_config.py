"""ScoringConfig validation names the attribution key."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from drift.attribution.scoring_config import DebiasMode, ScoringConfig, ScoringMethod
from drift.config import ConfigError


def test_defaults_and_string_choices() -> None:
    cfg = ScoringConfig(method="less", debias="residual")
    assert cfg.method is ScoringMethod.LESS and cfg.debias is DebiasMode.RESIDUAL


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"fraction": 0.0}, "method.scoring.fraction"),
        ({"damping": -1.0}, "method.scoring.damping"),
        ({"temperature": 0.0}, "method.scoring.temperature"),
        ({"debias": "l2"}, "method.scoring.debias"),
    ],
)
def test_bad_values_name_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        ScoringConfig(**kwargs)


def test_omegaconf_structured_merge() -> None:
    merged = OmegaConf.merge(OmegaConf.structured(ScoringConfig), {"scheme": "balanced"})
    cfg = OmegaConf.to_object(merged)
    assert cfg.scheme.value == "balanced"
