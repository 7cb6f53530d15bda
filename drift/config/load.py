"""Check a composed config against :class:`~drift.config.schema.DriftConfig` (load_config)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from drift.config.schema import DriftConfig
from drift.errors import ConfigError
from drift.overrides import refuse_unused_overrides


def load_config(cfg: DictConfig | dict[str, Any]) -> DriftConfig:
    """Check a composed config against :class:`DriftConfig` and return the typed object."""
    raw = OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg.copy()
    with_hydra = "hydra" in raw
    if with_hydra:
        choices = raw.hydra.runtime.choices
        refuse_unused_overrides(raw, raw.hydra.overrides.task, choices)
        raw = OmegaConf.masked_copy(raw, [k for k in raw if k != "hydra"])
    try:
        # as plain containers: a key that Hydra force-added (`+method.x=1`) is not in the schema
        merged = OmegaConf.merge(OmegaConf.structured(DriftConfig), OmegaConf.to_container(raw))
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        msg = str(err.msg).splitlines()[0]
        raise ConfigError(f"invalid config at '{key}': {msg}" if key else msg) from None
    assert isinstance(obj, DriftConfig)
    return obj
