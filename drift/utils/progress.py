"""Progress reporting: a line through ``logging`` every ~10% (so the run's log file keeps it),
and a Rich bar on a terminal."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class PlainProgress:
    """Logs ``description: done/total (pct%) elapsed`` (INFO) when another ~10% is done."""

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
            log.info(
                "%s: %d/%d (%.0f%%) %.1fs", self.description, self.done, self.total, pct, elapsed
            )


class RichProgress:
    """A Rich progress bar with one task, and the log lines of :class:`PlainProgress`."""

    def __init__(self, total: int, description: str) -> None:
        self._lines = PlainProgress(total, description)
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
        self._lines.advance(n)

    def start(self) -> None:
        self._bar.start()

    def stop(self) -> None:
        self._bar.stop()


@contextmanager
def progress(total: int, description: str) -> Iterator[PlainProgress | RichProgress]:
    """A reporter with ``advance(n)``: log lines, and a Rich bar on a TTY."""
    if sys.stdout.isatty():
        bar = RichProgress(total, description)
        bar.start()
        try:
            yield bar
        finally:
            bar.stop()
    else:
        yield PlainProgress(total, description)


def quiet_library_bars() -> None:
    """Turn off the tqdm bars of transformers and the Hugging Face Hub (loading shards,
    downloads): drift reports its own progress, through logging."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    disable_progress_bars()
