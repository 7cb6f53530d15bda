"""`drift bench`: dispatch from the console entry point, tables, JSON."""

from __future__ import annotations

import json
import sys

import pytest

import drift.bench.cli as bench_cli
from drift.bench.cli import main, markdown, table
from drift.bench.harness import BenchResult
from drift.cli import main as drift_main


def _result() -> BenchResult:
    return BenchResult(
        name="x",
        size="tiny",
        unit="items/s",
        setting={"rows": 3},
        seconds={"path": [1.0], "base": [2.0]},
        units={"path": 4.0, "base": 4.0},
        comparisons=[("path", "base")],
        notes={"peak_alloc_mb": {"path": 1.0}},
    )


def test_drift_bench_goes_to_the_bench_cli(monkeypatch) -> None:
    seen = []
    monkeypatch.setattr(bench_cli, "main", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(sys, "argv", ["drift", "bench", "score", "--size", "tiny"])
    with pytest.raises(SystemExit) as exit_info:
        drift_main()
    assert exit_info.value.code == 0 and seen == [["score", "--size", "tiny"]]


def test_tables_show_rates_and_ratios() -> None:
    text = markdown(_result())
    assert (
        "| path (items/s) | 4 | 4 |" in text and "| path / base (speed ratio) | 2× | 2× |" in text
    )
    assert "peak_alloc_mb" in text
    assert table(_result()).row_count == 3


def test_main_writes_machine_and_results(tmp_path) -> None:
    out = tmp_path / "bench.json"
    assert main(["score", "--size", "tiny", "--repeats", "1", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["machine"]["torch_threads"] == 1
    (result,) = payload["results"]
    assert result["name"] == "score" and set(result["summary"]["ratios"]) == {
        "drift float32 / numpy float32",
        "drift float16 / numpy float16",
    }
    with pytest.raises(SystemExit):
        main(["nothing"])


def test_full_size_is_the_shaped_qwen_preset(compose_cfg):
    """`--size full` builds the transformer that model=qwen2.5-0.5b-shaped builds."""
    from drift.bench.harness import Size
    from drift.bench.models import shape
    from drift.config import load_config

    preset = load_config(compose_cfg(["model=qwen2.5-0.5b-shaped"])).model.tiny
    assert shape(Size.FULL) == preset
