"""Run a test's worker in forked rank processes, failing the test if they hang."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import torch


def run_ranks(
    worker: Callable[..., None],
    args: tuple[Any, ...],
    what: str,
    nprocs: int = 2,
    timeout_s: float = 120.0,
) -> None:
    """Call ``worker(rank, *args)`` in ``nprocs`` forked processes; fail after ``timeout_s``."""
    ctx = torch.multiprocessing.start_processes(
        worker, args, nprocs=nprocs, join=False, start_method="fork"
    )
    deadline = time.monotonic() + timeout_s
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            pytest.fail(f"{what} workers did not finish within {timeout_s:.0f} s")
