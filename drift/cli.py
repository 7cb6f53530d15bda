"""The `drift` console entry point: compose the Hydra config, check it, run the pipeline."""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from drift.config import ConfigError, load_config
from drift.utils.io import DataError

log = logging.getLogger("drift")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> float | None:
    from drift.pipeline.run import run

    try:
        drift_cfg = load_config(cfg)
    except ConfigError as err:
        log.error("config error: %s", err)
        raise SystemExit(2) from None
    resolved = OmegaConf.to_container(cfg, resolve=True)
    try:
        results = run(drift_cfg, resolved)
    except (ConfigError, DataError) as err:
        log.error("%s", err)
        raise SystemExit(2) from None
    methods = results["methods"]
    return next(iter(methods.values())).get("acc@5") if len(methods) == 1 else None


def main() -> None:
    """`drift [overrides]`; with no arguments, the embedded demo (`experiment=demo`)."""
    if len(sys.argv) == 1:
        sys.argv.append("experiment=demo")
    _hydra_main()


if __name__ == "__main__":
    main()
