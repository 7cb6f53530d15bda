"""Results tables: the demo's printed table and the Markdown written beside results.json.

Both go through :func:`drift.evaluation.aggregate.summarise`, like ``drift report``'s tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from drift.evaluation.aggregate import (
    DEFAULT_COLUMNS,
    runs_from_results,
    select_columns,
    summarise,
    summary_markdown,
    table_cells,
    table_header,
)

__all__ = ["DEFAULT_COLUMNS", "markdown_table", "print_table"]


def markdown_table(
    methods: Mapping[str, Mapping[str, float]], columns: Sequence[str] = DEFAULT_COLUMNS
) -> str:
    """A Markdown table with one row per method."""
    return summary_markdown(summarise(runs_from_results(methods)), columns, show_n=False)


def print_table(
    methods: Mapping[str, Mapping[str, float]],
    title: str,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    console: Console | None = None,
) -> None:
    """Print the results table with Rich (plain text when not on a terminal)."""
    rows = summarise(runs_from_results(methods))
    cols = select_columns(rows, columns)
    header = table_header(rows, cols, show_n=False)
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*table_cells(row, rows, cols, show_n=False))
    (console or Console()).print(table)
