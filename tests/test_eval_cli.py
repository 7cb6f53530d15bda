"""`drift eval policy=DIR`: the policy checked at once, the run evaluated as after training."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from drift.config import ConfigError, load_config
from drift.eval_cli import check_policy_dir, eval_args, training_run_differences
from drift.evaluation.multiturn import evaluation_metrics
from drift.pipeline.run import run
from drift.types import Trajectory

ROOT = Path(__file__).resolve().parents[1]


def _saved_model(path: Path, name: str = "config.json", content: object = None) -> Path:
    path.mkdir(parents=True)
    (path / name).write_text(json.dumps(content or {}))
    return path


def test_a_saved_model_or_adapter_passes_with_its_absolute_path(tmp_path, monkeypatch) -> None:
    _saved_model(tmp_path / "run" / "rft" / "policy")
    _saved_model(tmp_path / "adapter", "adapter_config.json", {"base_model_name_or_path": "hub/m"})
    monkeypatch.chdir(tmp_path)
    assert check_policy_dir("run/rft/policy") == tmp_path / "run" / "rft" / "policy"
    assert check_policy_dir("adapter") == tmp_path / "adapter"


@pytest.mark.parametrize(
    ("make", "given", "message"),
    [
        (lambda d: None, "nowhere", "policy=nowhere: {d}/nowhere does not exist"),
        (lambda d: (d / "f").write_text(""), "f", "policy=f: {d}/f is not a directory"),
        (
            lambda d: (d / "rft" / "policy").mkdir(parents=True),
            "rft",
            "policy=rft: {d}/rft holds no saved model (no config.json or adapter_config.json); "
            "did you mean {d}/rft/policy?",
        ),
        (
            lambda d: _saved_model(
                d / "a", "adapter_config.json", {"base_model_name_or_path": f"{d}/gone"}
            ),
            "a",
            "policy=a: the adapter's base model {d}/gone does not exist",
        ),
    ],
)
def test_a_policy_that_is_no_saved_model_is_named(tmp_path, monkeypatch, make, given, message):
    make(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        check_policy_dir(given)
    assert str(err.value) == message.format(d=tmp_path)


def test_eval_args_pass_the_policy_to_hydra_and_name_the_run(tmp_path) -> None:
    policy = _saved_model(tmp_path / "p")
    assert eval_args([f"policy={policy}", "task=arithmetic"]) == [
        "task=arithmetic",
        f"+policy='{policy}'",
        "name=eval",
    ]
    assert eval_args(["name=mine", f"policy={policy}"]) == ["name=mine", f"+policy='{policy}'"]
    for args in ([], [f"policy={policy}", f"policy={policy}"]):
        with pytest.raises(ConfigError, match=r"usage: drift eval policy=DIR"):
            eval_args(args)


def test_the_training_runs_other_settings_are_listed(compose_cfg, tmp_path) -> None:
    run_dir = tmp_path / "run"
    policy = _saved_model(run_dir / "drift_iw" / "round2" / "policy")
    (run_dir / ".hydra").mkdir()
    trained = compose_cfg(["task=arithmetic", "eval.sampled_samples=0"])
    OmegaConf.save(trained, run_dir / ".hydra" / "config.yaml")
    assert training_run_differences(policy, trained) == (run_dir, [])
    found = training_run_differences(policy, compose_cfg(["task=arithmetic"]))
    assert found == (run_dir, ["eval.sampled_samples=4 (run: 0)"])
    assert training_run_differences(_saved_model(tmp_path / "loose"), trained) is None


# `drift` with a bad policy, reporting afterwards which heavy libraries it had imported.
IMPORTS_ON_BAD_POLICY = """
import sys

from drift.cli import main

try:
    main()
finally:
    print("imported:", sorted(m for m in ("torch", "lightning", "trl") if m in sys.modules))
"""


def test_a_bad_policy_stops_drift_eval_before_torch_loads(tmp_path) -> None:
    cmd = [sys.executable, "-c", IMPORTS_ON_BAD_POLICY, "eval", f"policy={tmp_path}/none"]
    proc = subprocess.run(
        [*cmd, f"paths.log_dir={tmp_path}/out"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert f"config error: policy={tmp_path}/none: {tmp_path}/none does not exist" in proc.stderr
    assert "imported: []" in proc.stdout
    assert not (tmp_path / "out").exists()  # no run directory


def _readme_eval_example() -> list[str]:
    """The README's first `drift eval` command, as arguments after `drift`."""
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"^drift eval policy=\S+.*$", readme, flags=re.MULTILINE)
    assert line is not None
    return shlex.split(line.group(0).split("#")[0])[1:]


def _episodes(path: Path) -> dict[str, list[Trajectory]]:
    episodes: dict[str, list[Trajectory]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        episodes.setdefault(record.pop("decoding"), []).append(Trajectory.from_dict(record))
    return episodes


@pytest.mark.slow
def test_the_readme_example_evaluates_a_saved_policy_as_training_did(compose_cfg, tmp_path):
    """A run that trains nothing (the reference, untrained) saves its policy and evaluation
    episodes; `drift eval` on that policy writes the same episodes and metrics."""
    sizes = ["task.num_test=4", "eval.sampled_samples=2", "num_threads=1"]
    cfg = load_config(compose_cfg(["method=reference", "model.warmup.enabled=false", *sizes]))
    trained = run(cfg, resolved={})["methods"]["reference"]
    episodes = _episodes(tmp_path / "reference" / "eval" / "trajectories.jsonl")
    assert {k: len(v) for k, v in episodes.items()} == {"greedy": 4, "sampled": 8}
    (policy,) = (tmp_path / "cache").glob("reference-*")

    args = [f"policy={policy}" if a.startswith("policy=") else a for a in _readme_eval_example()]
    cmd = [sys.executable, "-m", "drift.cli", *args, *sizes, f"paths.log_dir={tmp_path}/out"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (tmp_path / "out" / "runs").iterdir()
    assert run_dir.name.endswith("_eval")
    label = policy.name  # a cached reference is named after its directory
    results = json.loads((run_dir / "results.json").read_text())
    assert results["policy"] == str(policy)
    metrics = json.loads((run_dir / label / "metrics.json").read_text())
    assert results["methods"] == {label: metrics}
    evaluated = _episodes(run_dir / label / "eval" / "trajectories.jsonl")
    assert evaluated == episodes
    assert metrics == evaluation_metrics(evaluated, cfg.task.max_turns)
    assert metrics == {k: v for k, v in trained.items() if k in metrics}
    assert "sampled/acc@1" in metrics and "acc@1" in metrics
