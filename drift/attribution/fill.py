"""Rank-sharded, resumable filling of a feature store.

The examples are cut into fixed blocks: shard ``k`` holds rows ``k*shard_size`` up to
``(k+1)*shard_size`` and belongs to rank ``k % world_size``. Every rank computes the shards it
owns that are not yet written with the expected ids and writes them into the shared store
directory; once every rank has finished, rank 0 lists the shards in ``meta.json`` (the merge:
no data moves, shard files already carry their final names), so the store is file for file the
one a single process writes, in example order. A rerun, with any number of ranks, recomputes
only the shards that are missing. A failure on any rank is raised on every rank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drift.attribution.store import FeatureStore
from drift.utils.distributed import Ranks, on_every_rank

Rows = Callable[[int, int], tuple[np.ndarray, np.ndarray]]
"""``(start, stop)`` -> features ``[stop - start, dim]`` and norms ``[stop - start]``."""


class NonFiniteGradientError(RuntimeError):
    """An example's gradient has NaN/inf entries; the message names the example ids."""


def open_store(
    path: str | Path, dim: int, dtype: str, settings: Mapping[str, Any], ranks: Ranks
) -> FeatureStore:
    """Rank 0 resumes or creates the store at ``path``; the other ranks open it after that."""
    create = (
        (lambda: FeatureStore.open_or_create(path, dim, dtype, settings))
        if ranks.is_main
        else (lambda: None)
    )
    store = on_every_rank(create, ranks)
    return store if store is not None else FeatureStore.open(path, dim, dtype, settings)


def shard_bounds(num_rows: int, shard_size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of every shard, in order."""
    return [(a, min(a + shard_size, num_rows)) for a in range(0, num_rows, shard_size)]


def fill_store(
    store: FeatureStore, ids: Sequence[str], shard_size: int, rows: Rows, ranks: Ranks
) -> FeatureStore:
    """Write this rank's missing shards of ``ids`` (computed by ``rows``), then commit the
    store on rank 0; return the committed store on every rank.

    Raises :class:`NonFiniteGradientError` naming the examples of a shard with a non-finite
    row; that shard is not written, finished shards are kept for the rerun.
    """
    if store.complete:
        return store
    bounds = shard_bounds(len(ids), shard_size)

    def work() -> None:
        for index in range(ranks.rank, len(bounds), ranks.world_size):
            start, stop = bounds[index]
            part = list(ids[start:stop])
            if store.shard_ids(index) == part:
                continue
            features, norms = rows(start, stop)
            bad = ~(np.isfinite(features).all(axis=1) & np.isfinite(norms))
            if bad.any():
                raise NonFiniteGradientError(
                    f"non-finite gradient (NaN/inf) for example(s) "
                    f"{[part[i] for i in np.flatnonzero(bad)[:5]]}; finished shards are kept "
                    f"in {store.path}: fix these examples and rerun to resume"
                )
            store.write_shard(index, features, part, norms)

    on_every_rank(work, ranks)
    on_every_rank(lambda: store.commit(len(bounds)) if ranks.is_main else None, ranks)
    return store if ranks.is_main else FeatureStore.open(store.path)
