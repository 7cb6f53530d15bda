"""The README's plug-in example runs as written: the verifier of examples/my_verifier.py, chosen
from the `drift` command line in the repository root."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drift.reward.verifiers import build_verifier

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "reward.verifier=examples.my_verifier:numeric_match"


def readme_command(marker: str) -> list[str]:
    """The arguments of the one `drift` command line in the README that contains ``marker``."""
    lines = (ROOT / "README.md").read_text().splitlines()
    (line,) = [ln for ln in lines if ln.startswith("drift ") and marker in ln]
    return shlex.split(line.split("#")[0])[1:]


def test_the_example_verifier_compares_numbers_as_numbers(monkeypatch):
    monkeypatch.chdir(ROOT)  # imported from the working directory, as the README runs it
    verifier = build_verifier(EXAMPLE.split("=")[1])
    assert verifier("3.0", "3") and verifier("1,250", "1250") and verifier(" x ", "x")
    assert not verifier("4", "3") and not verifier(None, "3") and not verifier("3a", "3")


@pytest.mark.slow
def test_the_readme_plugin_example_runs(tmp_path):
    args = readme_command(EXAMPLE)
    assert EXAMPLE in args
    drift = Path(sys.executable).with_name("drift")  # the console script the README calls
    fast = ["debug=fast", "num_threads=1", "task.num_test=4", "eval.sampled_samples=0"]
    cmd = [str(drift), *args, *fast, f"paths.log_dir={tmp_path}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    (run,) = (tmp_path / "runs").iterdir()
    config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert config["reward"]["verifier"] == "examples.my_verifier:numeric_match"
    verifier = build_verifier(config["reward"]["verifier"])
    rows = [json.loads(line) for line in (run / "drift_iw" / "trajectories.jsonl").open()]
    turns = [(turn, row["target"]) for row in rows for turn in row["turns"]]
    assert any(turn["answer"] is not None for turn, _ in turns)
    for turn, target in turns:
        assert turn["correct"] == verifier(turn["answer"], target)
