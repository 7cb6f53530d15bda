"""Progress reporting: a Rich bar on a terminal, a plain line every ~10% elsewhere (logs)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


class PlainProgress:
    """Prints ``description: done/total (pct%) elapsed`` when another ~10% is done."""

    def __init__(self, total: int, description: str) -> None:
        self.total = total
        self.description = description
        self.done = 0
        self._step = max(1, math.ceil(total / 10))
        self._next = self._step
        self._start = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.done >= self._next or self.done == self.total:
            self._next = (self.done // self._step + 1) * self._step
            pct = 100.0 * self.done / self.total if self.total else 100.0
            elapsed = time.monotonic() - self._start
            print(
                f"{self.description}: {self.done}/{self.total} ({pct:.0f}%) {elapsed:.1f}s",
                file=sys.stdout,
                flush=True,
            )


class RichProgress:
    """A Rich progress bar with one task."""

    def __init__(self, total: int, description: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self._task = self._bar.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        self._bar.advance(self._task, n)

    def start(self) -> None:
        self._bar.start()

    def stop(self) -> None:
        self._bar.stop()


@contextmanager
def progress(total: int, description: str) -> Iterator[PlainProgress | RichProgress]:
    """A reporter with ``advance(n)``: Rich on a TTY, plain lines otherwise."""
    if sys.stdout.isatty():
        bar = RichProgress(total, description)
        bar.start()
        try:
            yield bar
        finally:
            bar.stop()
    else:
        yield PlainProgress(total, description)
