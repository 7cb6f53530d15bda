"""Aggregate runs over seeds into tables (Markdown, CSV) and plots; the `drift report` command.

:func:`summarise` groups :class:`~drift.evaluation.runs.RunRecord` s by method and by their
non-seed overrides and reports the mean and the sample standard deviation (ddof=1) over the
seeds of each group. The demo's printed table (:mod:`drift.evaluation.report`) uses it too.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drift.evaluation.runs import RunRecord, collect_runs, find_runs, runs_from_results
from drift.utils.io import DataError, atomic_open, read_text

__all__ = [
    "COST_CAPTION",
    "COST_COLUMNS",
    "DEFAULT_COLUMNS",
    "REPORT_COLUMNS",
    "RunRecord",
    "SummaryRow",
    "collect_runs",
    "column_label",
    "common_overrides",
    "config_labels",
    "cost_columns",
    "cost_markdown",
    "format_cell",
    "main",
    "metric_names",
    "read_summary_csv",
    "runs_from_results",
    "select_columns",
    "summarise",
    "summary_markdown",
    "table_cells",
    "table_header",
    "write_report",
    "write_runs_csv",
    "write_summary_csv",
]

log = logging.getLogger(__name__)

# acc@k (solved within k turns), the rates, then the answer given at each turn and how it changed
# from turn 1 to turn T (drift.evaluation.multiturn; docs/metrics.md): a table shows the ones its
# runs report, so a 2-turn run shows acc@t1, acc@t2.
DEFAULT_COLUMNS = (
    "acc@1",
    "acc@2",
    "acc@3",
    "acc@4",
    "acc@5",
    "correction_rate",
    "repeat_rate",
    "echo_rate",
    "acc@t1",
    "acc@t2",
    "acc@t3",
    "acc@t4",
    "acc@t5",
    "delta",
    "delta_i2c",
    "delta_c2i",
)
REPORT_COLUMNS = (*DEFAULT_COLUMNS, "auroc", "norm_spearman")
# What training cost (drift.pipeline.cost), with short headers; cells are whole numbers.
COST_COLUMNS = ("cost/generated_tokens", "cost/wall_seconds", "cost/optimizer_steps")
COLUMN_LABELS = {
    "delta": "Δ(t1,tT)",
    "delta_i2c": "Δi→c",
    "delta_c2i": "Δc→i",
    "cost/generated_tokens": "generated tokens",
    "cost/wall_seconds": "wall s",
    "cost/optimizer_steps": "optimizer steps",
}
COST_CAPTION = (
    "Accuracy against training cost. acc: greedy episodes, sampled/: sampled episodes. "
    "generated tokens: every token sampled to make training data, all rounds included; the "
    "one-round rollout set that uniform SFT, RFT and DRIFT-IW share counts in full for each. "
    "wall s: rollout + training seconds (the shared set at the time it took when first drawn; "
    "GRPO: its trainer's time, rollouts included). Not counted: the reference's warm-up "
    "(shared by all) and evaluation."
)


@dataclass(frozen=True)
class SummaryRow:
    """One (method, configuration) group: mean and sample std over its ``n`` runs."""

    method: str
    config: str
    n: int
    seeds: tuple[int, ...] = ()
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``method`` or ``method [config]``."""
        return f"{self.method} [{self.config}]" if self.config else self.method


# ---------------------------------------------------------------- aggregating


def common_overrides(runs: Sequence[RunRecord]) -> list[str]:
    """The configuration overrides that every record shares (left out of the labels)."""
    common = set.intersection(*(set(r.overrides) for r in runs)) if runs else set()
    return sorted(common)


def config_labels(runs: Sequence[RunRecord]) -> list[str]:
    """Per record, its overrides minus those every record shares, joined by ', '."""
    common = set(common_overrides(runs))
    return [", ".join(o for o in r.overrides if o not in common) for r in runs]


def summarise(runs: Sequence[RunRecord]) -> list[SummaryRow]:
    """Group ``runs`` by (method, config) in order of first appearance; mean ± std per metric.

    The std is the sample standard deviation (ddof=1), NaN for a group of one run. A metric
    that only some runs of a group report is averaged over those runs.
    """
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for record, config in zip(runs, config_labels(runs), strict=True):
        groups.setdefault((record.method, config), []).append(record)
    methods = list(dict.fromkeys(r.method for r in runs))
    keys = sorted(groups, key=lambda k: methods.index(k[0]))  # stable: configs keep their order
    return [_summarise_group(method, config, groups[method, config]) for method, config in keys]


def _summarise_group(method: str, config: str, records: list[RunRecord]) -> SummaryRow:
    seeds = [r.seed for r in records if r.seed is not None]
    if len(set(seeds)) < len(seeds):
        dirs = ", ".join(str(r.run_dir) for r in records)
        log.warning("%s [%s]: repeated seeds %s (runs: %s)", method, config, seeds, dirs)
    mean, std = {}, {}
    for name in _metric_order(records):
        values = np.array([r.metrics[name] for r in records if name in r.metrics])
        mean[name] = float(values.mean())
        std[name] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
    return SummaryRow(method, config, len(records), tuple(seeds), mean, std)


def metric_names(rows: Sequence[SummaryRow]) -> list[str]:
    """Every metric that some row reports, in order of first appearance."""
    return list(dict.fromkeys(name for row in rows for name in row.mean))


def select_columns(rows: Sequence[SummaryRow], wanted: Sequence[str] | None) -> list[str]:
    """The ``wanted`` columns that some row reports (all metrics when ``wanted`` is None)."""
    present = metric_names(rows)
    return present if wanted is None else [c for c in wanted if c in present]


def _metric_order(records: Sequence[RunRecord]) -> list[str]:
    return list(dict.fromkeys(name for r in records for name in r.metrics))


def cost_columns(rows: Sequence[SummaryRow]) -> list[str]:
    """acc@1, acc@K and the correction rate (greedy, then sampled; K the most turns reported)
    beside the cost columns; empty when no row reports a cost."""
    if not any(c in r.mean for r in rows for c in COST_COLUMNS):
        return []
    turns = [int(m[1]) for name in metric_names(rows) if (m := re.fullmatch(r"acc@(\d+)", name))]
    acc = list(dict.fromkeys(["acc@1", f"acc@{max(turns, default=1)}", "correction_rate"]))
    return select_columns(rows, [*acc, *(f"sampled/{c}" for c in acc), *COST_COLUMNS])


# ---------------------------------------------------------------- tables


def format_cell(row: SummaryRow, column: str) -> str:
    """``mean`` for one run, ``mean ± std`` for several, ``-`` when the metric is missing."""
    if column not in row.mean:
        return "-"
    fmt = ",.0f" if column in COST_COLUMNS else ".3f"
    std = row.std.get(column, math.nan)
    if math.isnan(std):
        return f"{row.mean[column]:{fmt}}"
    return f"{row.mean[column]:{fmt}} ± {std:{fmt}}"


def column_label(column: str, rows: Sequence[SummaryRow]) -> str:
    """A column's header: its :data:`COLUMN_LABELS` entry (behind ``sampled/`` for sampled
    metrics) or the metric's name. ``Δ(t1,tT)`` names T, the last turn with an ``acc@tT``, when
    every row that reports it has the same T."""
    base = column.removeprefix("sampled/")
    prefix = column[: len(column) - len(base)]
    label = COLUMN_LABELS.get(base, base)
    if base == "delta":
        last = {_last_turn(row, prefix) for row in rows if column in row.mean}
        if len(last) == 1 and None not in last:
            label = label.replace("tT", f"t{last.pop()}")
    return prefix + label


def _last_turn(row: SummaryRow, prefix: str) -> int | None:
    pattern = re.compile(re.escape(prefix) + r"acc@t(\d+)")
    turns = [int(m[1]) for name in row.mean if (m := pattern.fullmatch(name))]
    return max(turns, default=None)


def table_header(rows: Sequence[SummaryRow], columns: Sequence[str], show_n: bool) -> list[str]:
    """Header cells: method, config (when any row has one), n (when ``show_n``), metrics."""
    return [*_label_columns(rows, show_n), *(column_label(c, rows) for c in columns)]


def table_cells(
    row: SummaryRow, rows: Sequence[SummaryRow], columns: Sequence[str], show_n: bool
) -> list[str]:
    """The cells of ``row`` under :func:`table_header`'s header."""
    labels = {"method": row.method, "config": row.config or "-", "n": str(row.n)}
    return [labels[c] for c in _label_columns(rows, show_n)] + [
        format_cell(row, c) for c in columns
    ]


def summary_markdown(
    rows: Sequence[SummaryRow], columns: Sequence[str] | None = None, show_n: bool = True
) -> str:
    """A Markdown table, one line per group; ``columns`` None means every metric."""
    cols = select_columns(rows, columns)
    header = table_header(rows, cols, show_n)
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(table_cells(r, rows, cols, show_n)) + " |" for r in rows]
    return "\n".join(lines)


def cost_markdown(rows: Sequence[SummaryRow], show_n: bool = True) -> str | None:
    """The accuracy-against-cost table under its caption, or None when no row reports a cost."""
    columns = cost_columns(rows)
    return f"{COST_CAPTION}\n\n{summary_markdown(rows, columns, show_n)}" if columns else None


def _label_columns(rows: Sequence[SummaryRow], show_n: bool) -> list[str]:
    return ["method"] + ["config"] * any(r.config for r in rows) + ["n"] * show_n


# ---------------------------------------------------------------- CSV


def write_summary_csv(rows: Sequence[SummaryRow], path: str | Path) -> None:
    """One line per group: method, config, n, seeds (``;``-joined), ``<m>_mean``, ``<m>_std``."""
    metrics = metric_names(rows)
    header = ["method", "config", "n", "seeds"]
    header += [f"{m}_{stat}" for m in metrics for stat in ("mean", "std")]
    lines = []
    for r in rows:
        stats = [_csv_float(d.get(m)) for m in metrics for d in (r.mean, r.std)]
        lines.append([r.method, r.config, r.n, ";".join(map(str, r.seeds)), *stats])
    _write_csv(path, header, lines)


def read_summary_csv(path: str | Path) -> list[SummaryRow]:
    """The rows written by :func:`write_summary_csv`."""
    with io.StringIO(read_text(path), newline="") as fh:
        reader = csv.DictReader(fh)
        metrics = [c.removesuffix("_mean") for c in reader.fieldnames or [] if c.endswith("_mean")]
        rows = []
        for line in reader:
            present = [m for m in metrics if line[f"{m}_mean"] != ""]
            rows.append(
                SummaryRow(
                    method=line["method"],
                    config=line["config"],
                    n=int(line["n"]),
                    seeds=tuple(int(s) for s in line["seeds"].split(";") if s),
                    mean={m: float(line[f"{m}_mean"]) for m in present},
                    std={m: float(line[f"{m}_std"] or "nan") for m in present},
                )
            )
    return rows


def write_runs_csv(runs: Sequence[RunRecord], path: str | Path) -> None:
    """The tidy per-run table: one line per (run, method) with every metric."""
    metrics = _metric_order(runs)
    header = ["method", "config", "seed", "run_dir", *metrics]
    lines = [
        [r.method, cfg, "" if r.seed is None else r.seed, r.run_dir or ""]
        + [_csv_float(r.metrics.get(m)) for m in metrics]
        for r, cfg in zip(runs, config_labels(runs), strict=True)
    ]
    _write_csv(path, header, lines)


def _write_csv(path: str | Path, header: list[str], lines: list[list[Any]]) -> None:
    with atomic_open(path) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(lines)


def _csv_float(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else repr(value)


# ---------------------------------------------------------------- the `drift report` command


def main(argv: Sequence[str] | None = None) -> int:
    """`drift report DIR [--out OUT] [--columns a,b,...]`: tables and plots of every run."""
    parser = argparse.ArgumentParser(
        prog="drift report",
        description="Tabulate (mean ± std over seeds) and plot every run under DIR.",
    )
    parser.add_argument("dir", type=Path, help="a run or multirun directory")
    parser.add_argument("--out", type=Path, help="output directory (default: DIR/report)")
    parser.add_argument(
        "--columns",
        help="comma-separated metrics for the Markdown table, or 'all' "
        f"(default: {','.join(REPORT_COLUMNS)}); the CSV always has every metric",
    )
    args = parser.parse_args(argv)
    out = args.out or args.dir / "report"
    columns = _parse_columns(args.columns)
    try:
        runs = collect_runs(args.dir)
        rows = summarise(runs)
        written = write_report(runs, rows, out, columns)
    except DataError as err:
        print(f"drift report: {err}", file=sys.stderr)
        return 2
    print(summary_markdown(rows, columns))
    cost = cost_markdown(rows)
    if cost is not None:
        print(f"\n{cost}")
    print(f"\n{len(runs)} records from {len(find_runs(args.dir))} runs; wrote:")
    for path in written:
        print(f"  {path}")
    return 0


def write_report(
    runs: Sequence[RunRecord],
    rows: Sequence[SummaryRow],
    out: str | Path,
    columns: Sequence[str] | None = REPORT_COLUMNS,
) -> list[Path]:
    """Write summary.md (with the accuracy-against-cost table when runs report costs),
    summary.csv, runs.csv and the plots into ``out``; return the paths."""
    from drift.evaluation.plots import write_plots  # plots imports this module and matplotlib

    out = Path(out)
    md = out / "summary.md"
    shared = ", ".join(common_overrides(runs)) or "none"
    with atomic_open(md) as fh:
        fh.write(f"Overrides shared by every run: {shared}\n\n")
        fh.write(summary_markdown(rows, columns) + "\n")
        cost = cost_markdown(rows)
        if cost is not None:
            fh.write(f"\n{cost}\n")
    write_summary_csv(rows, out / "summary.csv")
    write_runs_csv(runs, out / "runs.csv")
    return [md, out / "summary.csv", out / "runs.csv", *write_plots(rows, runs, out)]


def _parse_columns(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return REPORT_COLUMNS
    if text.strip() == "all":
        return None
    return tuple(c.strip() for c in text.split(",") if c.strip())
