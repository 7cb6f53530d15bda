"""ScoringConfig validation names the attribution key."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from drift.attribution.scoring_config import DebiasMode, ScoringConfig, ScoringMethod
from drift.config import ConfigError, load_config


def test_defaults_and_string_choices() -> None:
    cfg = ScoringConfig(method="prism", debias="residual")
    assert cfg.method is ScoringMethod.prism and cfg.debias is DebiasMode.residual


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"preconditioner": "identity"}, "preconditioner=identity"),
        ({"preconditioner": "fisher"}, "preconditioner=fisher"),
        ({"debias": "none"}, "debias=none"),
        ({"debias": "residual"}, "debias=residual"),
    ],
)
def test_less_refuses_the_settings_it_has_no_use_for(kwargs: dict, key: str) -> None:
    """LESS has Adam features and cosine similarity only: it would silently ignore other
    preconditioners and debiasings, so they are refused, naming the key."""
    less = {"method": "less", "preconditioner": "adam", "debias": "cosine"}
    with pytest.raises(ConfigError, match=rf"method\.scoring\.{key} does not apply to .*less"):
        ScoringConfig(**{**less, **kwargs})
    assert ScoringConfig(**less, adam_form="less_code").method is ScoringMethod.less


@pytest.mark.parametrize(
    "overrides",
    [
        ["method=less", "method.scoring.debias=none"],
        ["method=less", "method.scoring.preconditioner=fisher"],
        ["experiment=attribution_demo", "compare.less.scoring.preconditioner=identity"],
    ],
)
def test_less_preset_refuses_them_at_load(compose_cfg, overrides: list[str]) -> None:
    with pytest.raises(ConfigError, match=r"does not apply to method\.scoring\.method=less"):
        load_config(compose_cfg(overrides))


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
