"""The DRIFT authors' benchmark metrics (their ``compute_metrics``) beside drift's own, and the
suite's tables: one per benchmark, one summary (README, "The DRIFT paper's benchmarks").

Per turn t, over a benchmark's greedy episodes: ``attempts@t{t}`` (episodes that answer at turn
t), ``correct@t{t}`` (of those, right), ``turn_acc@t{t}`` (their ratio: the authors' per-turn
accuracy), ``acc@t`` (right within t turns: their cumulative accuracy, drift's acc@k) and
``correction_rate@t{t}`` (the authors' per-turn correction rate,
:func:`~drift.evaluation.multiturn.episode_metrics`). Under the oracle protocol the
per-turn accuracy at t >= 2 equals the correction rate at t, as in the authors' output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drift.evaluation.multiturn import episode_metrics
from drift.types import Trajectory

DRIFT_COLUMNS = ("correction_rate", "valid_rate", "repeat_rate", "echo_rate", "mean_turns")
"""drift's own metrics shown under each benchmark's table."""


def benchmark_metrics(episodes: Sequence[Trajectory], max_turns: int) -> dict[str, float]:
    """:func:`~drift.evaluation.multiturn.episode_metrics` of one benchmark's episodes, with
    ``n`` (episodes) and the per-turn ``attempts@t``, ``correct@t`` and ``turn_acc@t``."""
    metrics = episode_metrics(episodes, max_turns)
    metrics["n"] = float(len(episodes))
    for t in range(1, max_turns + 1):
        attempts = [e.turns[t - 1].correct for e in episodes if len(e.turns) >= t]
        metrics[f"attempts@t{t}"] = float(len(attempts))
        metrics[f"correct@t{t}"] = float(sum(attempts))
        metrics[f"turn_acc@t{t}"] = sum(attempts) / len(attempts) if attempts else 0.0
    return metrics


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]
    return "\n".join(lines)


def benchmark_table(label: str, metrics: Mapping[str, float], max_turns: int) -> str:
    """One benchmark's Markdown table, a row per turn, then drift's own metrics."""
    rows = []
    for t in range(1, max_turns + 1):
        correction = f"{metrics[f'correction_rate@t{t}']:.3f}" if t > 1 else "-"
        rows.append(
            [
                t,
                int(metrics[f"attempts@t{t}"]),
                int(metrics[f"correct@t{t}"]),
                f"{metrics[f'turn_acc@t{t}']:.3f}",
                f"{metrics[f'acc@{t}']:.3f}",
                correction,
            ]
        )
    header = ["turn", "attempts", "correct", "per-turn acc", "cumulative acc", "correction rate"]
    own = ", ".join(f"{k} {metrics[k]:.3f}" for k in DRIFT_COLUMNS)
    title = f"**{label}** ({int(metrics['n'])} problems)"
    return f"{title}\n\n{_table(header, rows)}\n\ndrift: {own}"


def summary_table(results: Mapping[str, Mapping[str, float]], max_turns: int) -> str:
    """The Markdown summary, a row per benchmark (``results``: label -> metrics)."""
    last = f"acc@{max_turns}"
    header = ["benchmark", "n", "acc@1", last, "Δ", "correction rate", "valid rate"]
    rows = [
        [
            label,
            int(m["n"]),
            f"{m['acc@1']:.3f}",
            f"{m[last]:.3f}",
            f"{m[last] - m['acc@1']:+.3f}",
            f"{m['correction_rate']:.3f}",
            f"{m['valid_rate']:.3f}",
        ]
        for label, m in results.items()
    ]
    return _table(header, rows)


def suite_markdown(results: Mapping[str, Mapping[str, float]], max_turns: int) -> str:
    """The summary table, then each benchmark's table."""
    parts = [summary_table(results, max_turns)]
    parts += [benchmark_table(label, m, max_turns) for label, m in results.items()]
    return "\n\n".join(parts) + "\n"
