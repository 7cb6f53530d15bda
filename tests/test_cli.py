"""The `drift` command: run directories (one per run, never outside the log directory, none
left behind by a run that fails its config check)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# `drift` with the clock that names run directories stopped at one instant, as for two runs
# started together.
FROZEN_CLOCK_DRIFT = """
import datetime

import hydra.core.utils

import drift.utils.run_dir
from drift.cli import main

class Frozen(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2030, 1, 2, 3, 4, 5)

hydra.core.utils.datetime = Frozen  # Hydra's ${now:...}
drift.utils.run_dir.datetime = Frozen
main()
"""


def _drift(args: list[str], frozen_clock: bool = False) -> subprocess.Popen:
    code = ["-c", FROZEN_CLOCK_DRIFT] if frozen_clock else ["-m", "drift.cli"]
    cmd = [sys.executable, *code, *args]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.slow
def test_two_runs_started_in_the_same_second_get_their_own_directories(tmp_path):
    log_dir = tmp_path / "outputs"
    procs = [
        _drift(
            [
                "method=reference",
                "debug=fast",
                f"seed={seed}",
                "num_threads=1",
                "task.num_test=4",
                "eval.sampled_samples=0",
                f"paths.log_dir={log_dir}",
                f"paths.cache_dir={tmp_path}/cache{seed}",
            ],
            frozen_clock=True,
        )
        for seed in (0, 1)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
    runs = sorted((log_dir / "runs").iterdir())
    assert [p.name for p in runs] == [
        "2030-01-02_03-04-05-000000-1_reference",
        "2030-01-02_03-04-05-000000_reference",
    ]
    seeds = {(run / ".hydra" / "overrides.yaml").read_text().count("seed=1") for run in runs}
    assert seeds == {0, 1}  # each directory holds its own run's config
    for run in runs:
        assert (run / "results.json").exists() and (run / "cli.log").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("name=../../../../escaped", "name must be a name"),
        ("method.beta=-1", "method.beta must be > 0"),
    ],
)
def test_a_run_failing_its_config_check_leaves_no_run_directory(tmp_path, override, message):
    log_dir = tmp_path / "a" / "b" / "outputs"
    proc = _drift([override, "debug=fast", "num_threads=1", f"paths.log_dir={log_dir}"])
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 2, out[-3000:]
    assert message in out
    assert _files(tmp_path) == ["a", "a/b", "a/b/outputs", "a/b/outputs/runs"]


# `drift` with a bad value, reporting afterwards which heavy libraries it had imported.
IMPORTS_ON_CONFIG_ERROR = """
import sys

from drift.cli import main

try:
    main()
finally:
    print("imported:", sorted(m for m in ("torch", "lightning", "trl") if m in sys.modules))
"""


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["method.beta=0"], "method.beta must be > 0"),
        (
            ["model.name_or_path=/no/such/model"],
            "model.name_or_path: /no/such/model does not exist",
        ),
        (
            ["model.name_or_path={tmp}", "+model.gguf_file=m.Q8_0.gguf"],
            "model.gguf_file: {tmp}/m.Q8_0.gguf does not exist",
        ),
        (
            ["reward.verifier=no_such_pkg.checks:verify"],
            "reward.verifier=no_such_pkg.checks:verify: cannot import module 'no_such_pkg.checks'",
        ),
        (
            ["rollout.engine=examples.my_verifier:numeric_match"],
            "rollout.engine=examples.my_verifier:numeric_match: an engine factory must take "
            "(rollout, model, policy)",
        ),
    ],
)
def test_a_config_error_is_reported_before_torch_lightning_or_trl_load(
    tmp_path, overrides, message
):
    overrides = [o.format(tmp=tmp_path) for o in overrides]
    cmd = [sys.executable, "-c", IMPORTS_ON_CONFIG_ERROR, *overrides]
    cmd.append(f"paths.log_dir={tmp_path}")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert message.format(tmp=tmp_path) in proc.stdout + proc.stderr
    assert "imported: []" in proc.stdout


# `drift` with the pipeline replaced by a stand-in that runs no stage: Hydra, its sweepers and the
# config check run as they do for real, in a second instead of minutes.
STUB_PIPELINE_DRIFT = """
import sys
import types

def run(cfg, resolved):
    return {"methods": {name: {cfg.objective: 0.5} for name in cfg.methods()}}

stub = types.ModuleType("drift.pipeline.run")
stub.run = run
sys.modules["drift.pipeline.run"] = stub

from drift.cli import main

main()
"""


def _stub_drift(args: list[str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", STUB_PIPELINE_DRIFT, *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("args", "name", "jobs"),
    [
        (["-m", "method.beta=0.05,0.5", "seed=0,1"], "drift_iw", 4),  # the README's example
        (["-m", "seed=0,1"], "demo", 2),
        (["-m", "method=rft", "seed=0,1"], "rft", 2),
        (["-m", "experiment=compare_iw", "method=rft,drift_iw", "seed=0"], "compare_iw", 2),
        (["-m", "method=rft,drift_iw"], "multirun", 2),  # the jobs' names differ
        (["-m", "name=a,b"], "multirun", 2),
        (["hparams_search=drift_iw_optuna", "hydra.sweeper.n_trials=2"], "drift_iw_optuna", 2),
    ],
)
def test_a_multirun_directory_is_named_after_its_runs(tmp_path, args, name, jobs):
    if args[0].startswith("hparams_search"):
        pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    proc = _stub_drift([*args, "debug=fast", f"paths.log_dir={tmp_path}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "multiruns").iterdir()  # one directory for the whole multirun
    assert sweep.name.endswith(f"_{name}"), sweep.name
    job_dirs = [p for p in sweep.iterdir() if (p / ".hydra" / "overrides.yaml").exists()]
    assert len(job_dirs) == jobs  # every job ran inside it


DEMO_METHODS = "reference, uniform_sft, rft, drift_iw"


@pytest.mark.parametrize(
    ("args", "name", "methods"),
    [
        (["seed=1"], "demo", DEMO_METHODS),
        (["trainer.lr=1e-3"], "demo", DEMO_METHODS),
        (["compare.drift_iw.beta=0.5"], "demo", DEMO_METHODS),
        (["+method@compare.grpo=grpo"], "demo", f"{DEMO_METHODS}, grpo"),
        (["method.beta=0.3"], "drift_iw", "drift_iw"),  # a method's key: that method alone
        (["method=rft", "seed=1"], "rft", "rft"),
        (["experiment=drift_iw_paper", "task.num_train=8"], "drift_iw_paper", "drift_iw"),
    ],
)
def test_a_command_line_that_chooses_no_method_runs_the_demo(tmp_path, args, name, methods):
    proc = _stub_drift([*args, "debug=fast", f"paths.log_dir={tmp_path}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.endswith(f"_{name}"), run.name
    assert f"{name}: {methods} -> {run}" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "instead"),
    [
        (["experiment=demo", "method.beta=0.5"], "write compare.drift_iw.beta=0.5 instead"),
        (["method.beta=0.5", "experiment=demo"], "write compare.drift_iw.beta=0.5 instead"),
        (["experiment=attribution_demo", "method=rft"], "+method@compare.rft=rft"),
        (["-m", "experiment=demo", "method.beta=0.05,0.5"], "compare.drift_iw.beta=0.05"),
    ],
)
def test_an_override_a_comparison_would_not_use_stops_the_run(tmp_path, args, instead):
    proc = _stub_drift([*args, "debug=fast", f"paths.log_dir={tmp_path}"])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert "would be ignored" in out and instead in out
    assert not list(tmp_path.rglob("*.log"))  # no run directory kept


def test_a_sweeps_jobs_get_a_wandb_id_each():
    """`drift -m seed=0,1,2 logger.id=run7` logs to run7-job0, run7-job1, run7-job2 (one id
    would make every job resume the same W&B run); without an id W&B picks one per run."""
    from drift.cli import sweep_job_id

    assert [sweep_job_id("run7", n) for n in range(3)] == ["run7-job0", "run7-job1", "run7-job2"]
    assert sweep_job_id(None, 4) is None
