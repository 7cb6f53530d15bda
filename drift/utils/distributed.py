"""This process's place among ranks, and collective steps that fail on every rank together.

Ranks come from ``torch.distributed`` when a process group is initialised (Lightning's DDP,
FSDP and DeepSpeed strategies start one in ``trainer.fit`` and keep it; ``torchrun`` users may
start it themselves); otherwise the process is rank 0 of 1 and every collective is a no-op.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class Ranks:
    """``rank`` of ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} outside world_size {self.world_size}")

    @classmethod
    def current(cls) -> Ranks:
        """The default process group's rank and size, or rank 0 of 1 without one."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def barrier(ranks: Ranks) -> None:
    """Wait for every rank (nothing to wait for with one process)."""
    if ranks.world_size > 1:
        dist.barrier()


def on_every_rank(work: Callable[[], T], ranks: Ranks) -> T:
    """Run ``work`` here, then wait for every rank; if any rank raised, raise on all of them.

    A rank that failed re-raises its own exception; the others raise the lowest failing rank's
    (same type and message), so no rank is left waiting in a later collective.
    """
    try:
        result, error = work(), None
    except Exception as err:  # shared with the other ranks, then re-raised
        result, error = None, err
    if ranks.world_size > 1:
        errors: list[Exception | None] = [None] * ranks.world_size
        dist.all_gather_object(errors, _picklable(error))
        error = error or next((e for e in errors if e is not None), None)
    if error is not None:
        raise error
    return result  # type: ignore[return-value]


def _picklable(error: Exception | None) -> Exception | None:
    """``error`` itself if it pickles, else a RuntimeError carrying its type and message."""
    try:
        pickle.dumps(error)
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error
