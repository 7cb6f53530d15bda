"""Fixtures of the report tests: a hand-made multirun directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_factory import write_sweep


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    """A multirun of two betas x three seeds (see :func:`write_sweep`)."""
    return write_sweep(tmp_path)
