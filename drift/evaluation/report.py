"""Results tables: the demo's printed tables and the Markdown written beside results.json.

All go through :func:`drift.evaluation.aggregate.summarise`, like ``drift report``'s tables.
When methods report what training cost, an accuracy-against-cost table follows the main one.
When every greedy accuracy is 0 (as at debug size) a one-line warning follows the main table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from drift.evaluation.aggregate import (
    COST_CAPTION,
    DEFAULT_COLUMNS,
    cost_columns,
    cost_markdown,
    runs_from_results,
    select_columns,
    summarise,
    summary_markdown,
    table_cells,
    table_header,
)

__all__ = ["DEFAULT_COLUMNS", "markdown_table", "print_results", "print_table", "results_markdown"]

ALL_ZERO_WARNING = (
    "Warning: every greedy accuracy is 0, no policy solved a test problem. Usual at debug size "
    "(debug=fast trains for seconds); run the full preset for numbers that move."
)


def all_zero_warning(methods: Mapping[str, Mapping[str, float]]) -> str | None:
    """:data:`ALL_ZERO_WARNING` when every method's greedy ``acc@k`` is 0, else None."""
    accs = [v for m in methods.values() for k, v in m.items() if re.fullmatch(r"acc@\d+", k)]
    return ALL_ZERO_WARNING if accs and not any(accs) else None


LOG_WIDTH = 160  # characters of a table printed to a log file (Rich assumes 80 off a terminal)


def markdown_table(
    methods: Mapping[str, Mapping[str, float]], columns: Sequence[str] = DEFAULT_COLUMNS
) -> str:
    """A Markdown table with one row per method."""
    return summary_markdown(summarise(runs_from_results(methods)), columns, show_n=False)


def results_markdown(methods: Mapping[str, Mapping[str, float]]) -> str:
    """The main table, then the accuracy-against-cost table when some method reports a cost."""
    cost = cost_markdown(summarise(runs_from_results(methods)), show_n=False)
    warning = all_zero_warning(methods)
    main = markdown_table(methods) + (f"\n\n{warning}" if warning else "")
    return main + (f"\n\n{cost}" if cost is not None else "")


def print_table(
    methods: Mapping[str, Mapping[str, float]],
    title: str,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    console: Console | None = None,
    caption: str | None = None,
) -> None:
    """Print the results table with Rich (plain text when not on a terminal)."""
    rows = summarise(runs_from_results(methods))
    cols = select_columns(rows, columns)
    header = table_header(rows, cols, show_n=False)
    table = Table(title=title, caption=caption)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*table_cells(row, rows, cols, show_n=False))
    (console or _console()).print(table)


def print_results(
    methods: Mapping[str, Mapping[str, float]], title: str, console: Console | None = None
) -> None:
    """Print the main table, then the accuracy-against-cost table when some method has costs."""
    console = console or _console()
    print_table(methods, title, console=console)
    if warning := all_zero_warning(methods):
        console.print(warning, style="bold yellow", markup=False)
    columns = cost_columns(summarise(runs_from_results(methods)))
    if columns:
        print_table(methods, f"{title}: cost", columns, console, caption=COST_CAPTION)


def _console() -> Console:
    """A console as wide as the terminal, or :data:`LOG_WIDTH` when output goes to a file."""
    console = Console()
    return console if console.is_terminal else Console(width=LOG_WIDTH)
