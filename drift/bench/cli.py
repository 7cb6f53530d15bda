"""`drift bench {features,sft,rollout,score,precondition,all}`: run, print a table, save JSON.

    drift bench score --size small          # one benchmark
    drift bench all --size tiny --repeats 2 # every benchmark in turn
    python -m drift.bench features --markdown

The JSON (``--out``, default ``outputs/bench/<time>_<name>_<size>.json``) holds the machine
(:func:`~drift.bench.harness.machine`), each benchmark's setting, every round's seconds, the
min/median summary and its notes. ``--markdown`` also prints the tables as Markdown, ready for
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from drift.bench.harness import BenchResult, Size, machine

BENCHMARKS = ("features", "sft", "rollout", "score", "precondition")


def benchmark(name: str) -> Callable[[Size, int], BenchResult]:
    """The ``run(size, repeats)`` of ``drift.bench.<name>`` (importing it and what it uses)."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    return importlib.import_module(f"drift.bench.{name}").run


def table(result: BenchResult) -> Table:
    """A Rich table: min/median rate per case, then min/median ratio per comparison."""
    setting = ", ".join(f"{k}={v}" for k, v in result.setting.items())
    out = Table(title=f"{result.name} ({result.size}): {setting}", title_justify="left")
    for column in ("", "min", "median"):
        out.add_column(column, justify="left" if not column else "right")
    summary = result.summary()
    for case, stats in summary["rates"].items():
        out.add_row(f"{case} ({result.unit})", f"{stats['min']:.4g}", f"{stats['median']:.4g}")
    out.add_section()
    for pair, stats in summary["ratios"].items():
        out.add_row(f"{pair} (speed ratio)", f"{stats['min']:.3g}×", f"{stats['median']:.3g}×")
    return out


def markdown(result: BenchResult) -> str:
    """The same table in Markdown, with the notes below it."""
    summary = result.summary()
    setting = ", ".join(f"{k}={v}" for k, v in result.setting.items())
    rounds = len(next(iter(result.seconds.values())))
    lines = [
        f"**{result.name}** ({result.size}; {setting}; {rounds} rounds)",
        "",
        "| | min | median |",
        "|---|---:|---:|",
    ]
    for case, stats in summary["rates"].items():
        lines.append(f"| {case} ({result.unit}) | {stats['min']:.4g} | {stats['median']:.4g} |")
    for pair, stats in summary["ratios"].items():
        lines.append(f"| {pair} (speed ratio) | {stats['min']:.3g}× | {stats['median']:.3g}× |")
    lines.extend(f"\n{key}: `{json.dumps(value)}`" for key, value in result.notes.items())
    return "\n".join(lines)


def record(result: BenchResult) -> dict[str, Any]:
    """One benchmark's JSON entry."""
    return {
        "name": result.name,
        "size": result.size,
        "unit": result.unit,
        "setting": result.setting,
        "seconds": result.seconds,
        "units": result.units,
        "summary": result.summary(),
        "notes": result.notes,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="drift bench", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--size", type=Size, choices=list(Size), default=Size.SMALL)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after a warm-up")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Run the chosen benchmarks with ``--threads`` threads; print and save them."""
    import torch
    from threadpoolctl import threadpool_limits

    args = parse_args(argv)
    names = BENCHMARKS if args.name == "all" else (args.name,)
    runs = {name: benchmark(name) for name in names}  # BLAS libraries load before the limit
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    console = Console()
    results = []
    try:
        with threadpool_limits(args.threads):
            host = machine()
            for run in runs.values():
                result = run(args.size, args.repeats)
                console.print(table(result))
                if args.markdown:
                    print(markdown(result))
                results.append(result)
            host["load_average_after"] = machine()["load_average"]
    finally:
        torch.set_num_threads(threads)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    out = args.out or Path("outputs/bench") / f"{stamp}_{args.name}_{args.size}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": host, "results": [record(r) for r in results]}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"machine: {host['cpu']}, {host['torch_threads']} thread(s); wrote {out}")
    return 0
