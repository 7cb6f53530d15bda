"""`drift --help`: the config groups, and every key with its type, default and help text."""

import subprocess
import sys
from pathlib import Path

from drift.config_help import group_options, render

ROOT = Path(__file__).resolve().parents[1]


def test_groups_list_their_options_with_the_default_marked():
    groups = group_options(ROOT / "conf")
    assert "cpu*" in groups["trainer"] and "gpu" in groups["trainer"]
    assert "drift_iw*" in groups["method"] and "demo" in groups["experiment"]


def test_keys_show_their_default_and_help_and_sections_limit_them():
    text = render(ROOT / "conf", ["trainer"])
    assert "trainer.micro_batch_size: int = 64\n      examples per forward and backward" in text
    assert "trainer.fsdp.sharding_strategy: str = 'FULL_SHARD'" in text
    assert "reward.gamma" not in text and "reward.gamma" in render(ROOT / "conf", [])


def test_a_config_class_in_a_type_is_named_by_its_import_path():
    text = render(ROOT / "conf", ["compare", "eval"])
    assert "compare: dict[str, drift.config.MethodConfig] = {}" in text
    assert "eval.benchmarks: dict[str, drift.config.BenchmarkConfig] = " in text


def test_drift_help_prints_it_without_loading_torch():
    code = "import sys; from drift.cli import main\ntry:\n    main()\nfinally:\n"
    code += "    print('torch' in sys.modules)"
    cmd = [sys.executable, "-c", code, "--help", "method"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "method.beta: float = 0.1\n      DRIFT-IW's temperature" in proc.stdout
    assert proc.stdout.rstrip().endswith("False")
