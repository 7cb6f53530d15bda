"""End to end: the demo preset at debug size, through the real CLI entry point and Hydra."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from drift.config import TrainerConfig, load_config
from drift.pipeline import methods as method_stage
from drift.pipeline.run import grpo_settings, run
from drift.training.grpo_config import GRPOSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_end_to_end_and_reuses_cached_artifacts(compose_cfg, tmp_path, monkeypatch):
    raw = compose_cfg(["experiment=demo", "debug=fast"])
    cfg = load_config(raw)
    summary = run(cfg, resolved={})
    methods = summary["methods"]
    assert list(methods) == ["reference", "uniform_sft", "rft", "drift_iw"]
    for metrics in methods.values():
        accs = [metrics[f"acc@{k}"] for k in range(1, cfg.task.max_turns + 1)]
        assert accs == sorted(accs) and 0.0 <= accs[0] <= accs[-1] <= 1.0
        assert 0.0 <= metrics["repeat_rate"] <= 1.0
    # At debug size the greedy columns may all be 0 (results.md then says so), but the sampled
    # evaluation episodes and the rollouts the methods train on must hold solved problems.
    sampled = [v for m in methods.values() for k, v in m.items() if k.startswith("sampled/acc@")]
    assert max(sampled) > 0
    greedy = [v for m in methods.values() for k, v in m.items() if k.startswith("acc@")]
    results_md = (tmp_path / "results.md").read_text()
    assert ("every greedy accuracy is 0" in results_md) == (max(greedy) == 0)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["methods"] == methods and written["wall_seconds"] > 0
    assert (tmp_path / "drift_iw" / "policy" / "config.json").exists()
    rows = [
        json.loads(line)
        for line in (tmp_path / "drift_iw" / "trajectories.jsonl").read_text().splitlines()
    ]
    assert len(rows) == cfg.task.num_train * cfg.rollout.num_samples
    solved = [any(turn["correct"] for turn in row["turns"]) for row in rows]
    assert any(solved) and not all(solved)
    weights = [row["weight"] for row in rows]
    assert abs(sum(weights) / len(weights) - 1.0) < 1e-6 and max(weights) > min(weights)

    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()}
    run(cfg, resolved={})
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == cached
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()} == stamps

    # A run that fails in the middle of a method leaves every finished artifact as it was.
    finished = _stamps(tmp_path, ["results.json", "results.md", "drift_iw", "cache"])

    def broken_fit(*args, **kwargs):
        raise RuntimeError("simulated crash during training")

    monkeypatch.setattr(method_stage, "train_policy", broken_fit)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(replace(cfg, compare={"drift_iw": cfg.compare["drift_iw"]}), resolved={})
    assert _stamps(tmp_path, ["results.json", "results.md", "drift_iw", "cache"]) == finished


def _stamps(root: Path, names: list[str]) -> dict[str, tuple[int, bytes]]:
    """Modification time and bytes of every file under ``root/<name>`` (files or folders)."""
    files = [p for n in names for p in [root / n, *(root / n).rglob("*")] if p.is_file()]
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in files}


def _drift(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "drift.cli", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_cli_multirun_writes_one_directory_per_job(tmp_path):
    proc = _drift(
        [
            "-m",
            "debug=fast",
            "method=drift_iw",
            "method.beta=0.05,0.5",
            f"paths.log_dir={tmp_path}",
            "eval.sampled_samples=0",
        ],
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted(tmp_path.glob("multiruns/*/*/results.json"))
    assert len(results) == 2
    for path in results:
        assert list(json.loads(path.read_text())["methods"]) == ["drift_iw"]


def test_cli_bad_config_exits_with_the_key_named(tmp_path):
    proc = _drift(["method.beta=-1", f"paths.log_dir={tmp_path}"], cwd=ROOT)
    assert proc.returncode == 2
    assert "method.beta must be > 0" in proc.stderr + proc.stdout


def test_trainer_max_steps_caps_grpo_steps() -> None:
    settings = GRPOSettings(steps=800)
    assert grpo_settings(settings, TrainerConfig(max_steps=4)).steps == 4
    assert grpo_settings(settings, TrainerConfig(max_steps=-1)) is settings
    assert grpo_settings(settings, TrainerConfig(max_steps=1000)) is settings
