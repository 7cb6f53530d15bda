"""Results tables: the demo's printed table and the Markdown written beside results.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

DEFAULT_COLUMNS = ("acc@1", "acc@2", "acc@3", "acc@4", "acc@5", "correction_rate", "repeat_rate")


def table_columns(methods: Mapping[str, Mapping[str, float]], wanted: Sequence[str]) -> list[str]:
    """The wanted columns that at least one method reports."""
    return [c for c in wanted if any(c in m for m in methods.values())]


def markdown_table(
    methods: Mapping[str, Mapping[str, float]], columns: Sequence[str] = DEFAULT_COLUMNS
) -> str:
    """A Markdown table with one row per method."""
    cols = table_columns(methods, columns)
    lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, metrics in methods.items():
        cells = [_cell(metrics.get(c)) for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(
    methods: Mapping[str, Mapping[str, float]],
    title: str,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    console: Console | None = None,
) -> None:
    """Print the results table with Rich (plain text when not on a terminal)."""
    cols = table_columns(methods, columns)
    table = Table(title=title)
    table.add_column("method")
    for c in cols:
        table.add_column(c, justify="right")
    for name, metrics in methods.items():
        table.add_row(name, *[_cell(metrics.get(c)) for c in cols])
    (console or Console()).print(table)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
