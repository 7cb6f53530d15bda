import logging
import sys

import pytest

from drift.utils.progress import progress, quiet_library_bars


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "drift.utils.progress"]


def test_log_lines_when_not_a_tty(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert not sys.stdout.isatty()
    caplog.set_level(logging.INFO)
    with progress(20, "work") as bar:
        for _ in range(20):
            bar.advance()
    lines = _lines(caplog)
    assert len(lines) == 10
    assert lines[0].startswith("work: 2/20 (10%)")
    assert lines[-1].startswith("work: 20/20 (100%)")
    assert not capsys.readouterr().out  # through logging, into the run's log file


def test_plain_progress_odd_totals(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with progress(7, "chunks") as bar:
        bar.advance(3)
        bar.advance(4)
    assert [line.split()[1] for line in _lines(caplog)] == ["3/7", "7/7"]


def test_rich_on_tty_and_log_lines_too(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    caplog.set_level(logging.INFO)
    with progress(3, "tty") as bar:
        for _ in range(3):
            bar.advance()
    assert type(bar).__name__ == "RichProgress"
    assert _lines(caplog)[-1].startswith("tty: 3/3 (100%)")


def test_library_bars_are_turned_off() -> None:
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars
    from transformers.utils import logging as hf_logging

    try:
        quiet_library_bars()
        assert not hf_logging.is_progress_bar_enabled() and are_progress_bars_disabled()
    finally:
        hf_logging.enable_progress_bar()
        enable_progress_bars()
