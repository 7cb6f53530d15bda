"""Interleaved rounds, per-round ratios and the machine record."""

from __future__ import annotations

import pytest

from drift.bench.harness import BenchResult, interleave, machine, peak_alloc_mb


def test_interleave_warms_up_once_then_alternates() -> None:
    calls: list[str] = []
    cases = {name: (lambda name=name: calls.append(name) or 2.0) for name in ("a", "b")}
    seconds, units = interleave(cases, repeats=3)
    assert calls == ["a", "b"] * 4  # one warm-up round, then three timed ones
    assert units == {"a": 2.0, "b": 2.0} and all(len(s) == 3 for s in seconds.values())
    with pytest.raises(ValueError, match="repeats"):
        interleave(cases, repeats=0)


def test_ratios_are_taken_within_each_round() -> None:
    result = BenchResult(
        name="x",
        size="tiny",
        unit="items/s",
        setting={},
        seconds={"path": [1.0, 2.0, 4.0], "base": [2.0, 2.0, 2.0]},
        units={"path": 10.0, "base": 10.0},
        comparisons=[("path", "base")],
    )
    assert result.ratios("path", "base") == [2.0, 1.0, 0.5]
    summary = result.summary()
    assert summary["ratios"]["path / base"] == {"min": 0.5, "median": 1.0}
    assert summary["rates"]["path"] == {"min": 2.5, "median": 5.0}


def test_machine_names_cpu_threads_and_versions() -> None:
    host = machine()
    assert {"cpu", "cores", "torch_threads", "gpu", "torch", "transformers"} <= set(host)
    assert host["torch_threads"] >= 1


def test_peak_alloc_sees_an_array() -> None:
    import numpy as np

    assert peak_alloc_mb(lambda: np.ones(1_000_000)) >= 8.0
