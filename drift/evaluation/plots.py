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
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from drift.evaluation.aggregate import SummaryRow, config_labels
from drift.evaluation.runs import RunRecord, load_scores

BAR_METRICS = ("auroc", "norm_spearman")
ACC_PANELS = (("", "greedy"), ("sampled/", "sampled"))
TOKENS = "cost/generated_tokens"
DODGE_DECADES = 0.012  # sideways spread of points that share a token count (log10 units)
LEFT_ROOM_DECADES = 0.3  # room left of the cheapest point for the 0-token lines' labels


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


def cost_figure(rows: Sequence[SummaryRow]) -> Figure | None:
    """acc@1 (hollow) and acc@K (filled) against generated tokens on a log axis, one point per
    group (mean, std bars both ways), a panel per decoding; groups that generated nothing (the
    reference) are horizontal lines at their accuracy. None when no group generated a token."""
    if not any(r.mean.get(TOKENS, 0.0) > 0 for r in rows):
        return None
    panels = [(p, title, _acc_ks(rows, p)) for p, title in ACC_PANELS]
    panels = [(p, title, sorted({1, ks[-1]})) for p, title, ks in panels if ks]
    if not panels:
        return None
    fig = _figure((5.5 * len(panels), 4.6 + 0.22 * math.ceil(len(rows) / 2)))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    dodge = _dodge(rows)
    cheapest = min(r.mean[TOKENS] for r in rows if r.mean.get(TOKENS, 0.0) > 0)
    for ax, (prefix, title, ks) in zip(axes, panels, strict=True):
        for i, row in enumerate(rows):
            if TOKENS in row.mean:
                _cost_points(ax, row, [f"{prefix}acc@{k}" for k in ks], f"C{i % 10}", dodge[i])
        ax.set_xscale("log")
        ax.set_xlim(left=cheapest * 10**-LEFT_ROOM_DECADES)
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(_short_count))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(title=f"accuracy against generated tokens ({title})", ylabel="solved")
        ax.set(xlabel="tokens generated for training (log scale)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3, which="both")
    handles = [
        Line2D([], [], color=f"C{i % 10}", marker="o", label=_legend(r))
        for i, r in enumerate(rows)
        if TOKENS in r.mean
    ]
    k = panels[0][2][-1]
    handles += [
        Line2D([], [], color="grey", marker="o", linestyle="", label=f"acc@{k}"),
        Line2D([], [], color="grey", marker="o", mfc="none", linestyle="", label="acc@1"),
        Line2D([], [], color="grey", linestyle="--", label="no tokens generated"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small")
    return fig


def _cost_points(ax: Axes, row: SummaryRow, keys: list[str], color: str, factor: float) -> None:
    """One group on a cost panel: points at its token count, or lines when it has none."""
    tokens = row.mean[TOKENS]
    for key in keys:
        if key not in row.mean:
            continue
        filled = key == keys[-1]
        if tokens <= 0:
            ax.axhline(row.mean[key], color=color, linestyle="--", linewidth=1.2)
            name = f"{row.label} {key.rsplit('/', 1)[-1]}"
            transform = ax.get_yaxis_transform()  # x in axes fraction, y in data
            ax.text(0.01, row.mean[key] + 0.01, name, transform=transform, color=color)
            continue
        ax.errorbar(
            tokens * factor,
            row.mean[key],
            xerr=_zero_nan(row.std.get(TOKENS, math.nan)),
            yerr=_zero_nan(row.std.get(key, math.nan)),
            marker="o",
            mfc=color if filled else "white",
            color=color,
            capsize=3,
        )


def _short_count(value: float, _: object = None) -> str:
    """500 -> '500', 2e5 -> '200k', 1.5e6 -> '1.5M' (tick labels)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _dodge(rows: Sequence[SummaryRow]) -> list[float]:
    """Per row, a factor that spreads the rows sharing a token count (to 3 digits) sideways."""
    counts = [f"{r.mean.get(TOKENS, 0.0):.3g}" for r in rows]
    factors = []
    for i, count in enumerate(counts):
        same = [j for j, c in enumerate(counts) if c == count]
        factors.append(10 ** ((same.index(i) - (len(same) - 1) / 2) * DODGE_DECADES))
    return factors


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
    """Save acc_at_k.png, acc_vs_tokens.png, ranking.png and scores_vs_grad_norm.png (those
    with data)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "acc_at_k.png": acc_at_k_figure(rows),
        "acc_vs_tokens.png": cost_figure(rows),
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
