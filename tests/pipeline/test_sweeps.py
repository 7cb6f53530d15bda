"""Sweeps: the comparison multirun presets, the Optuna search and the SLURM launcher preset."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import OmegaConf

from drift.cli import objective_value
from drift.config import ConfigError, MethodFamily, load_config

ROOT = Path(__file__).resolve().parents[2]
# Debug size, smaller still: a 2-step warm-up and 2 training steps per job.
TINY = [
    "debug=fast",
    "model.warmup.steps=2",
    "model.warmup.batch_size=16",
    "model.warmup.num_examples=64",
    "trainer.max_steps=2",
    "task.num_train=16",
    "task.num_test=8",
    "rollout.num_samples=2",
    "eval.sampled_samples=0",
]
IW_METHODS = ["reference", "uniform_sft", "rft", "drift_iw", "drift_iw_if"]
IF_METHODS = ["full", "random", "drift_if", "less", "prism", "grad_sim", "cg_if"]
IF_METHODS += ["perplexity", "embedding"]


def sweep_jobs(cfg) -> list[list[str]]:
    """The jobs (override lists) Hydra's basic sweeper makes of ``hydra.sweeper.params``."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    overrides = OverridesParser.create().parse_overrides(params)
    return BasicSweeper.split_arguments(overrides, None)[0]


@pytest.mark.parametrize(
    ("preset", "family", "methods"),
    [
        ("compare_iw", MethodFamily.iw, IW_METHODS),
        (
            "compare_if",
            MethodFamily.attribution,
            IF_METHODS,
        ),
    ],
)
def test_compare_preset_sweeps_every_method_over_three_seeds(compose_cfg, preset, family, methods):
    jobs = sweep_jobs(compose_cfg([f"experiment={preset}"]))
    assert len(jobs) == 3 * len(methods)
    assert [job[0] for job in jobs[::3]] == [f"method={m}" for m in methods]
    assert {job[1] for job in jobs} == {"seed=0", "seed=1", "seed=2"}
    groups = set()
    for job in jobs[::3]:  # every method composes with the preset and validates
        cfg = load_config(compose_cfg([f"experiment={preset}", *job]))
        assert cfg.name == preset and list(cfg.methods()) == [job[0].split("=")[1]]
        assert cfg.method.family == family
        groups.add(cfg.logger.group)
    # One W&B group per multirun: stamped like the sweep directory (Hydra resolves ${now:}
    # once per multirun; these separate compose calls may straddle a second).
    assert all(re.fullmatch(rf"{preset}_[\d-]+_[\d-]+", g) for g in groups)


@pytest.mark.parametrize(
    ("preset", "single_run"), [("compare_iw", "demo"), ("compare_if", "attribution_demo")]
)
def test_compare_preset_runs_the_settings_of_its_single_run_demo(compose_cfg, preset, single_run):
    """A comparison multirun measures what the one-run demo measures (and shares its cache)."""
    multi = load_config(compose_cfg([f"experiment={preset}"]))
    single = load_config(compose_cfg([f"experiment={single_run}"]))
    for part in ("task", "model", "rollout", "reward", "trainer", "attribution", "study", "eval"):
        assert getattr(multi, part) == getattr(single, part), part


def _drift(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "drift.cli", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_compare_iw_multirun_computes_reference_and_rollouts_once_per_seed(tmp_path):
    args = ["-m", "experiment=compare_iw", "method=uniform_sft,drift_iw", "seed=0,1", *TINY]
    proc = _drift([*args, f"paths.log_dir={tmp_path}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = sorted(p.parent for p in tmp_path.glob("multiruns/*/*/results.json"))
    assert len(jobs) == 4
    cache = tmp_path / "cache"
    references = [p for p in cache.glob("reference-*") if ".work" not in p.name]
    assert len(references) == 2  # one per seed
    assert len(list(cache.glob("rollouts-*.meta.json"))) == 2
    assert not list(cache.glob("*.partial.jsonl"))
    logs = [_log(job) for job in jobs]
    assert sum(log.count("warming up the reference policy") for log in logs) == 2
    assert sum(log.count("reusing reference policy") for log in logs) == 2
    users: dict[Path, list[int]] = {}  # rollout file -> when each job using it finished
    for job, log in zip(jobs, logs, strict=True):
        (used,) = re.findall(r"trajectories in (\S+rollouts-\w+\.jsonl)", log)
        users.setdefault(Path(used), []).append((job / "results.json").stat().st_mtime_ns)
    assert len(users) == 2 and all(len(v) == 2 for v in users.values())  # 2 methods per seed
    for path, finished in users.items():  # written before its first user finished: reused
        assert path.parent == cache and path.stat().st_mtime_ns < min(finished)


def _log(job: Path) -> str:
    return "".join(p.read_text() for p in job.glob("*.log"))


def test_objective_is_validated_and_returned(compose_cfg):
    assert load_config(compose_cfg([])).objective == "acc@5"
    assert load_config(compose_cfg(["task.max_turns=3"])).objective == "acc@3"
    assert load_config(compose_cfg(["objective=correction_rate"])).objective == "correction_rate"
    with pytest.raises(ConfigError, match="objective"):
        load_config(compose_cfg(["objective=sampled/acc@6"]))
    methods = {"drift_iw": {"acc@5": 0.25, "repeat_rate": 0.5}}
    assert objective_value(methods, "repeat_rate") == 0.5
    assert objective_value(methods, "acc@4") is None
    assert objective_value({**methods, "rft": {"acc@5": 0.3}}, "acc@5") is None


def test_optuna_preset_maximises_the_objective_over_beta_and_lr(compose_cfg):
    raw = compose_cfg(["hparams_search=drift_iw_optuna"])
    sweeper = raw.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert set(sweeper.params) == {"method.beta", "trainer.lr"}
    assert raw.hydra.runtime.choices["hydra/sweeper"] == "optuna"
    optuna = pytest.importorskip("optuna")
    assert isinstance(instantiate(sweeper.sampler), optuna.samplers.TPESampler)
    cfg = load_config(raw)
    assert cfg.methods() == {"drift_iw": cfg.method} and cfg.objective == "acc@5"


@pytest.mark.slow
def test_optuna_two_trial_sweep_reports_the_best_objective(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    start = time.perf_counter()
    args = ["hparams_search=drift_iw_optuna", "hydra.sweeper.n_trials=2", *TINY]
    proc = _drift([*args, f"paths.log_dir={tmp_path}", "objective=valid_rate"], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert time.perf_counter() - start < 300
    (best_file,) = tmp_path.glob("multiruns/*/optimization_results.yaml")
    best = yaml.safe_load(best_file.read_text())
    trials = sorted(best_file.parent.glob("*/results.json"))
    assert len(trials) == 2
    values = [json.loads(p.read_text())["methods"]["drift_iw"]["valid_rate"] for p in trials]
    assert best["best_value"] == pytest.approx(max(values))
    assert set(best["best_params"]) == {"method.beta", "trainer.lr"}
    lrs = {
        yaml.safe_load((p.parent / ".hydra/config.yaml").read_text())["trainer"]["lr"]
        for p in trials
    }
    assert len(lrs) == 2 and all(1e-4 <= lr <= 1e-2 for lr in lrs)


def test_slurm_launcher_preset_composes_into_a_submitit_launcher(compose_cfg):
    launcher_conf = pytest.importorskip("hydra_plugins.hydra_submitit_launcher.config")
    gpus = ["trainer.devices=2", "trainer.num_nodes=2", "trainer.effective_batch_size=256"]
    raw = compose_cfg(["launcher=slurm", "trainer=gpu", *gpus])
    params = OmegaConf.merge(  # an unknown or mistyped key fails here
        OmegaConf.structured(launcher_conf.SlurmQueueConf),
        OmegaConf.to_container(raw.hydra.launcher, resolve=True),
    )
    assert (params.nodes, params.tasks_per_node, params.gpus_per_node) == (2, 2, 2)
    assert params.submitit_folder.startswith(str(raw.hydra.sweep.dir))
    launcher = instantiate(raw.hydra.launcher)
    assert type(launcher).__name__ == "SlurmLauncher"
    assert launcher.params["timeout_min"] == raw.hydra.launcher.timeout_min
    assert load_config(raw).trainer.devices == 2
