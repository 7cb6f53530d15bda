"""The `drift` console entry point: compose the Hydra config, check it, run the pipeline."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from drift.config import ConfigError, load_config
from drift.eval_cli import eval_args, pop_policy, warn_if_trained_otherwise
from drift.overrides import refuse_unused_overrides
from drift.utils.io import DataError
from drift.utils.run_dir import discard_unstarted_run_dir, register_resolvers

log = logging.getLogger("drift")
register_resolvers()  # before Hydra names the run directory

# The configs live beside the package (an editable install, as `make` sets up).
CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf")


def _quiet_libraries() -> None:
    """Keep Lightning's start-up chatter (accelerator lines, tips) out of run logs."""
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    # Our configure_gradient_clipping serves FSDP; DeepSpeed clips by trainer.grad_clip itself.
    warnings.filterwarnings("ignore", message="Since DeepSpeed handles gradient clipping")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _hydra_main(cfg: DictConfig) -> float | None:
    try:  # before torch, Lightning and TRL are imported: config errors come fast
        hydra_cfg = HydraConfig.get()  # Hydra passes the job's config without its hydra node
        refuse_unused_overrides(cfg, hydra_cfg.overrides.task, hydra_cfg.runtime.choices)
        policy = pop_policy(cfg)  # `drift eval policy=DIR`; None for a training run
        drift_cfg = load_config(cfg)
    except ConfigError as err:
        log.error("config error: %s", err)
        _discard_run_dir()
        raise SystemExit(2) from None
    if hydra_cfg.mode == RunMode.MULTIRUN:
        drift_cfg.logger.id = sweep_job_id(drift_cfg.logger.id, hydra_cfg.job.num)
    if policy is None:
        methods = ", ".join(drift_cfg.methods())
        log.info("%s: %s -> %s", drift_cfg.name, methods, drift_cfg.paths.output_dir)
    else:
        log.info("%s: evaluating %s -> %s", drift_cfg.name, policy, drift_cfg.paths.output_dir)
        warn_if_trained_otherwise(policy, cfg)
    _quiet_libraries()
    resolved = OmegaConf.to_container(cfg, resolve=True)
    try:
        if policy is None:
            from drift.pipeline.run import run

            results = run(drift_cfg, resolved)
        else:
            from drift.pipeline.eval_run import evaluate_saved

            results = evaluate_saved(drift_cfg, policy, resolved)
    except (ConfigError, DataError) as err:
        log.error("%s", err)
        if isinstance(err, ConfigError):
            _discard_run_dir()
        raise SystemExit(2) from None
    return objective_value(results["methods"], drift_cfg.objective)


def sweep_job_id(logger_id: str | None, job_num: int) -> str | None:
    """``logger.id`` of a multirun's job ``job_num``: ``<id>-job<num>``, so that the jobs of a
    sweep log to W&B runs of their own (one id would make every job resume the same run); the
    same sweep command gives each job the same id again, so a rerun still resumes it."""
    return None if logger_id is None else f"{logger_id}-job{job_num}"


def _discard_run_dir() -> None:
    """Remove this run's directory if the run never started (only Hydra's files are in it)."""
    runtime = HydraConfig.get()
    discard_unstarted_run_dir(Path(runtime.runtime.output_dir), runtime.job.name)


def objective_value(methods: dict[str, dict], objective: str) -> float | None:
    """The ``objective`` metric of a single-method run (what a sweeper such as Optuna optimises);
    None for a comparison of several methods or a metric the method did not report."""
    if len(methods) != 1:
        return None
    value = next(iter(methods.values())).get(objective)
    if value is None:
        log.warning("objective '%s' is not among the run's metrics: returning None", objective)
    return value


# Groups that choose what runs; a command line that sets none of them runs the demo.
_CHOOSING = ("experiment", "method", "hparams_search")


def with_default_experiment(args: list[str]) -> list[str]:
    """``args`` with ``experiment=demo`` added unless an override chooses what runs: an
    ``experiment``, an ``hparams_search``, or a ``method`` or one of its keys
    (``method.beta=0.05``: that method alone). So ``drift``, ``drift seed=1``, ``drift -m
    seed=0,1,2`` and ``drift compare.drift_iw.beta=0.5`` run the demo (the last with its
    drift_iw changed; ``+method@compare.grpo=grpo`` adds a method to it)."""
    from hydra._internal.utils import get_args_parser

    try:
        parsed = get_args_parser().parse_args(args)
    except SystemExit:  # a bad flag: Hydra reports it
        return args
    for override in parsed.overrides:
        key, _, package = override.split("=", 1)[0].lstrip("+~").partition("@")
        if key.split(".", 1)[0] in _CHOOSING and not package.startswith("compare"):
            return args
    return [*args, "experiment=demo"]


def main() -> None:
    """`drift [overrides]`; without an experiment, method or search, the embedded demo
    (`experiment=demo`, see :func:`with_default_experiment`).

    `drift --help [SECTION ...]` lists the config groups and every key with its default and help
    (:mod:`drift.config_help`); `drift report DIR` tabulates and plots every run under DIR
    instead; `drift bench NAME` times a hot path against its baseline (:mod:`drift.bench.cli`);
    `drift eval policy=DIR [overrides]` evaluates a saved policy (:mod:`drift.eval_cli`).
    """
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        from drift.evaluation.aggregate import main as report_main

        raise SystemExit(report_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "bench":
        from drift.bench.cli import main as bench_main

        raise SystemExit(bench_main(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] in ("--help", "-h"):
        from drift.config_help import render

        print(render(Path(CONFIG_DIR), sys.argv[2:]))
        raise SystemExit(0)
    if len(sys.argv) > 1 and sys.argv[1] == "eval":
        try:
            sys.argv[1:] = eval_args(sys.argv[2:])
        except ConfigError as err:
            print(f"config error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
    else:
        sys.argv[1:] = with_default_experiment(sys.argv[1:])
    _hydra_main()


if __name__ == "__main__":
    main()
