"""What every benchmark shares: sizes, interleaved repetitions, min/median summaries, the machine.

Timings on a shared machine move a lot between runs, so a benchmark runs its project path and
its baseline alternately in one process (one warm-up each, then ``repeats`` rounds) and reports
ratios taken within each round: their min and median are what to quote, never an absolute rate
from another run.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


class Size(StrEnum):
    """Problem sizes: ``tiny`` for the test (seconds), ``small`` for a loaded 2-core machine,
    ``full`` for the shapes the issue names (a GPU or a quiet large machine)."""

    TINY = "tiny"
    SMALL = "small"
    FULL = "full"


Case = Callable[[], float]
"""One repetition of a path; returns the units of work it did (examples, tokens, bytes)."""


@dataclass
class BenchResult:
    """Seconds per repetition of each case, the units each did, and the ratios to report.

    ``comparisons`` pairs (path, baseline): the ratio of a round is path rate / baseline rate
    (> 1: the path is faster). ``setting`` records the shapes, ``notes`` anything else measured
    (peak memory, whether outputs matched).
    """

    name: str
    size: str
    unit: str
    setting: dict[str, Any]
    seconds: dict[str, list[float]]
    units: dict[str, float]
    comparisons: list[tuple[str, str]]
    notes: dict[str, Any] = field(default_factory=dict)

    def rates(self, case: str) -> list[float]:
        """Units per second of ``case``, one per round."""
        return [self.units[case] / s for s in self.seconds[case]]

    def ratios(self, path: str, baseline: str) -> list[float]:
        """Rate of ``path`` / rate of ``baseline``, round by round."""
        pairs = zip(self.rates(path), self.rates(baseline), strict=True)
        return [p / b for p, b in pairs]

    def summary(self) -> dict[str, Any]:
        """Min/median rates per case and min/median ratios per comparison (JSON-ready)."""
        rates = {c: _min_median(self.rates(c)) for c in self.seconds}
        ratios = {f"{p} / {b}": _min_median(self.ratios(p, b)) for p, b in self.comparisons}
        return {"rates": rates, "ratios": ratios}


def _min_median(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values)}


def interleave(
    cases: Mapping[str, Case], repeats: int, warmup: bool = True
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Run ``cases`` round-robin: one untimed warm-up each, then ``repeats`` timed rounds.

    Returns the seconds of each case per round and the units each reported (its last round's).
    """
    if repeats <= 0:
        raise ValueError(f"repeats must be > 0, got {repeats}")
    if warmup:
        for case in cases.values():
            case()
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    units: dict[str, float] = {}
    for _ in range(repeats):
        for name, case in cases.items():
            start = time.perf_counter()
            units[name] = float(case())
            seconds[name].append(time.perf_counter() - start)
    return seconds, units


def counting(call: Callable[[], object], units: float) -> Case:
    """A case that runs ``call`` and reports ``units`` of work."""

    def case() -> float:
        call()
        return units

    return case


def peak_alloc_mb(call: Callable[[], object]) -> float:
    """Peak memory that numpy and Python allocate during one ``call()``, in MB (tracemalloc)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def machine() -> dict[str, Any]:
    """The machine a result was measured on: CPU model, cores, threads, load, GPU, versions."""
    import psutil
    import torch
    import transformers
    from threadpoolctl import threadpool_info

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": _cpu_model(),
        "cores": psutil.cpu_count(logical=False),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "blas_threads": max((p["num_threads"] for p in threadpool_info()), default=None),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
