"""Scoring: the project's streamed direction scores against a numpy pass over the same files.

Per store dtype (float32, float16): ``drift`` is :func:`~drift.attribution.scoring.direction_scores`
(cosine) over the store's chunks as the pipeline reads them; ``numpy`` reads the same memory-mapped
shard files chunk by chunk as float32 and multiplies each chunk by the queries, nothing else (the
floor). Rates are feature megabytes per second; the notes hold each case's peak numpy allocation
(``tracemalloc``, one extra untimed call) and the largest score difference between the two.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from drift.attribution.directions import CHUNK_ROWS, chunks
from drift.attribution.scoring import direction_scores
from drift.attribution.store import FeatureStore
from drift.bench.harness import (
    BenchResult,
    Size,
    counting,
    interleave,
    peak_alloc_mb,
)

# rows, dim, queries, rows per shard
SHAPES: dict[Size, tuple[int, int, int, int]] = {
    Size.TINY: (2_000, 256, 8, 512),
    Size.SMALL: (8_192, 8_192, 512, 4_096),
    Size.FULL: (1 << 20, 8_192, 512, 65_536),
}
DTYPES = ("float32", "float16")


def random_store(path: Path, rows: int, dim: int, dtype: str, shard_rows: int) -> FeatureStore:
    """A committed store of standard-normal features (seeded), written shard by shard."""
    store = FeatureStore.create(path, dim, dtype, {"bench": "random"})
    rng = np.random.default_rng(0)
    starts = range(0, rows, shard_rows)
    for index, start in enumerate(starts):
        n = min(shard_rows, rows - start)
        feats = rng.standard_normal((n, dim), dtype=np.float32)
        ids = [f"ex-{start + i}" for i in range(n)]
        store.write_shard(index, feats, ids, np.linalg.norm(feats, axis=1))
    store.commit(len(starts))
    return FeatureStore.open(path)


def numpy_pass(files: list[Path], queries: np.ndarray, chunk_rows: int) -> np.ndarray:
    """Scores [N, K] from memory-mapped ``.npy`` files: each chunk as float32 times the queries."""
    parts = []
    for file in files:
        array = np.load(file, mmap_mode="r")
        for start in range(0, len(array), chunk_rows):
            parts.append(np.asarray(array[start : start + chunk_rows], np.float32) @ queries.T)
    return np.concatenate(parts)


def run(size: Size, repeats: int) -> BenchResult:
    """Both dtypes, project path and numpy pass interleaved, at ``size``."""
    rows, dim, k, shard_rows = SHAPES[Size(size)]
    queries = np.random.default_rng(1).standard_normal((k, dim), dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        calls: dict[str, Callable[[], np.ndarray]] = {}
        megabytes: dict[str, float] = {}
        for dtype in DTYPES:
            store = random_store(Path(tmp) / dtype, rows, dim, dtype, shard_rows)
            files = sorted(store.path.glob("features-*.npy"))
            calls[f"drift {dtype}"] = partial(_project, store, queries)
            calls[f"numpy {dtype}"] = partial(numpy_pass, files, queries, CHUNK_ROWS)
            for name in (f"drift {dtype}", f"numpy {dtype}"):
                megabytes[name] = rows * dim * np.dtype(dtype).itemsize / 1e6
        cases = {name: counting(call, megabytes[name]) for name, call in calls.items()}
        seconds, units = interleave(cases, repeats)
        peaks = {name: round(peak_alloc_mb(call), 1) for name, call in calls.items()}
    return BenchResult(
        name="score",
        size=str(size),
        unit="MB/s",
        setting={"rows": rows, "dim": dim, "queries": k, "chunk_rows": CHUNK_ROWS},
        seconds=seconds,
        units=units,
        comparisons=[(f"drift {d}", f"numpy {d}") for d in DTYPES],
        notes={"peak_alloc_mb": peaks},
    )


def _project(store: FeatureStore, queries: np.ndarray) -> np.ndarray:
    return direction_scores(chunks(store), queries)
