"""The ``paths`` group: the run directory and the shared cache."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PathsConfig:
    """Run directory (Hydra's) and the cache shared by runs with the same upstream config."""

    root_dir: str = field(
        default=".",
        metadata={"help": "where everything is written (conf/paths: $DRIFT_ROOT, else .)"},
    )
    log_dir: str = field(
        default="outputs",
        metadata={"help": "runs and multiruns go under it"},
    )
    output_dir: str = field(
        default="outputs/run",
        metadata={"help": "this run's directory (Hydra's)"},
    )
    cache_dir: str = field(
        default="outputs/cache",
        metadata={
            "help": "artifacts keyed by the hash of the config that built them (reference model, "
            "rollouts), shared by every run and seed that needs the same one"
        },
    )
