"""Comparison plots of aggregated runs, drawn with matplotlib's Agg canvas (no pyplot state).

Each ``*_figure`` function returns a :class:`~matplotlib.figure.Figure`, or None when the rows
carry nothing to draw; :func:`write_plots` saves the ones that exist as PNGs.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from drift.evaluation.aggregate import SummaryRow, config_labels
from drift.evaluation.runs import RunRecord, load_scores

BAR_METRICS = ("auroc", "norm_spearman")
ACC_PANELS = (("", "greedy"), ("sampled/", "sampled"))


def acc_at_k_figure(rows: Sequence[SummaryRow]) -> Figure | None:
    """acc@k against k, one line per group (mean, std error bars); a panel per decoding."""
    panels = [(p, title, _acc_ks(rows, p)) for p, title in ACC_PANELS]
    panels = [(p, title, ks) for p, title, ks in panels if ks]
    if not panels:
        return None
    fig = _figure((5.5 * len(panels), 4.4 + 0.22 * math.ceil(len(rows) / 2)))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (prefix, title, ks) in zip(axes, panels, strict=True):
        for i, row in enumerate(rows):
            keys = [f"{prefix}acc@{k}" for k in ks]
            if not any(key in row.mean for key in keys):
                continue
            mean = [row.mean.get(key, math.nan) for key in keys]
            std = [_zero_nan(row.std.get(key, math.nan)) for key in keys]
            offset = (i - (len(rows) - 1) / 2) * 0.04  # dodge overlapping error bars
            ax.errorbar(
                np.array(ks) + offset, mean, yerr=std, marker="o", capsize=3, label=_legend(row)
            )
        ax.set(title=f"acc@k ({title})", xlabel="turns k", ylabel="solved within k turns")
        ax.set_xticks(ks)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize="small")
    return fig


def bar_figure(rows: Sequence[SummaryRow], metrics: Sequence[str] = BAR_METRICS) -> Figure | None:
    """One bar per group (mean, std error bar, n under its label) per metric of ``metrics``."""
    present = [m for m in metrics if any(m in r.mean for r in rows)]
    if not present:
        return None
    fig = _figure((max(4.0, 1.0 + 0.9 * len(rows)) * len(present), 4.5))
    axes = fig.subplots(1, len(present), squeeze=False)[0]
    for ax, metric in zip(axes, present, strict=True):
        shown = [r for r in rows if metric in r.mean]
        x = np.arange(len(shown))
        mean = [r.mean[metric] for r in shown]
        std = [_zero_nan(r.std.get(metric, math.nan)) for r in shown]
        colors = [f"C{rows.index(r) % 10}" for r in shown]  # as in acc_at_k_figure
        ax.bar(x, mean, yerr=std, capsize=4, color=colors)
        if metric == "auroc":
            ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
            ax.set_ylim(0, 1.08)
            ax.legend(fontsize="small", loc="lower right")
        else:
            ax.axhline(0.0, color="black", linewidth=0.8)
        ticks = [f"{r.label}\n(n={r.n})" for r in shown]
        ax.set_xticks(x, ticks, rotation=25, ha="right", fontsize="small")
        ax.set(title=metric, ylabel=metric)
        ax.grid(axis="y", alpha=0.3)
    return fig


def scores_figure(runs: Sequence[RunRecord], max_points: int = 4000) -> Figure | None:
    """Score against gradient norm, a panel per (method, config), corrupted examples in red.

    All seeds of a group share its panel; at most ``max_points`` points per panel are drawn
    (a fixed random subset).
    """
    groups: dict[str, list[RunRecord]] = {}
    for run, config in zip(runs, config_labels(runs), strict=True):
        if run.scores_path is not None:
            groups.setdefault(f"{run.method} [{config}]" if config else run.method, []).append(run)
    if not groups:
        return None
    ncols = min(3, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    fig = _figure((4.6 * ncols, 4.0 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    rng = np.random.default_rng(0)
    for ax, (label, group) in zip(axes, groups.items(), strict=False):
        cols = [load_scores(r.scores_path) for r in group if r.scores_path is not None]
        score, norm, bad = (
            np.concatenate([c[k] for c in cols]) for k in ("score", "grad_norm", "corrupted")
        )
        keep = rng.permutation(len(score))[:max_points]
        for mask, name, color in ((~bad[keep], "clean", "C0"), (bad[keep], "corrupted", "C3")):
            ax.scatter(norm[keep][mask], score[keep][mask], s=6, alpha=0.5, c=color, label=name)
        if len(norm) and norm.min() > 0 and norm.max() / norm.min() > 100:
            ax.set_xscale("log")
        ax.set(title=label, xlabel="gradient norm", ylabel="score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", markerscale=2)
    for ax in axes[len(groups) :]:
        ax.set_visible(False)
    return fig


def write_plots(
    rows: Sequence[SummaryRow], runs: Sequence[RunRecord], out_dir: str | Path
) -> list[Path]:
    """Save acc_at_k.png, ranking.png and scores_vs_grad_norm.png (those with data)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "acc_at_k.png": acc_at_k_figure(rows),
        "ranking.png": bar_figure(rows),
        "scores_vs_grad_norm.png": scores_figure(runs),
    }
    written = []
    for name, fig in figures.items():
        if fig is not None:
            fig.savefig(out_dir / name, dpi=120)
            written.append(out_dir / name)
    return written


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (for notebooks: ``IPython.display.Image(figure_png(fig))``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _acc_ks(rows: Sequence[SummaryRow], prefix: str) -> list[int]:
    pattern = re.compile(re.escape(prefix) + r"acc@(\d+)$")
    ks = {int(m.group(1)) for r in rows for key in r.mean if (m := pattern.match(key))}
    return sorted(ks)


def _legend(row: SummaryRow) -> str:
    return f"{row.label} (n={row.n})"


def _zero_nan(value: float) -> float:
    return 0.0 if math.isnan(value) else value
