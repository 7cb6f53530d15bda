import sys

import pytest

from drift.utils.progress import progress


def test_plain_lines_when_not_a_tty(capsys: pytest.CaptureFixture[str]) -> None:
    assert not sys.stdout.isatty()
    with progress(20, "work") as bar:
        for _ in range(20):
            bar.advance()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("work: 2/20 (10%)")
    assert lines[-1].startswith("work: 20/20 (100%)")


def test_plain_progress_odd_totals(capsys: pytest.CaptureFixture[str]) -> None:
    with progress(7, "chunks") as bar:
        bar.advance(3)
        bar.advance(4)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["3/7", "7/7"]


def test_rich_on_tty(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with progress(3, "tty") as bar:
        for _ in range(3):
            bar.advance()
    assert "tty: 3/3 (100%)" not in capsys.readouterr().out
