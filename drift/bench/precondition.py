"""The Fisher preconditioner: the project's streamed damped inverse against a numpy float32 pass.

``drift`` is :func:`~drift.attribution.precondition.fisher_inverse` over the store's chunks as the
pipeline reads them, applied to the query directions; ``numpy`` accumulates the float32 Gram
matrix over the same memory-mapped files and solves the damped system once in float32 (the
floor). Rates are feature megabytes per second; the notes hold each case's peak numpy
allocation (``tracemalloc``, one extra untimed call).
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from drift.attribution.directions import CHUNK_ROWS, chunks
from drift.attribution.precondition import fisher_inverse
from drift.attribution.store import FeatureStore
from drift.bench.harness import (
    BenchResult,
    Size,
    counting,
    interleave,
    peak_alloc_mb,
)
from drift.bench.score import random_store

# rows, dim, directions, rows per shard
SHAPES: dict[Size, tuple[int, int, int, int]] = {
    Size.TINY: (1_000, 128, 4, 256),
    Size.SMALL: (8_192, 4_096, 8, 4_096),
    Size.FULL: (1 << 20, 8_192, 8, 65_536),
}
DAMPING = 0.1


def numpy_fisher(files: list[Path], directions: np.ndarray, chunk_rows: int) -> np.ndarray:
    """(F + λI)⁻¹ directions in float32, F the mean of φφᵀ over memory-mapped ``.npy`` files."""
    dim = directions.shape[1]
    gram, count = np.zeros((dim, dim), np.float32), 0
    for file in files:
        array = np.load(file, mmap_mode="r")
        for start in range(0, len(array), chunk_rows):
            x = np.asarray(array[start : start + chunk_rows], np.float32)
            gram += x.T @ x
            count += len(x)
    gram /= count
    gram.flat[:: dim + 1] += DAMPING * np.trace(gram) / dim
    return np.linalg.solve(gram, directions.T).T


def _project(store: FeatureStore, directions: np.ndarray) -> np.ndarray:
    return fisher_inverse(chunks(store), DAMPING)(directions)


def run(size: Size, repeats: int) -> BenchResult:
    """Project path and numpy pass interleaved on a float32 store at ``size``."""
    rows, dim, k, shard_rows = SHAPES[Size(size)]
    directions = np.random.default_rng(1).standard_normal((k, dim), dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        store = random_store(Path(tmp) / "store", rows, dim, "float32", shard_rows)
        files = sorted(store.path.glob("features-*.npy"))
        calls = {
            "drift": partial(_project, store, directions),
            "numpy float32": partial(numpy_fisher, files, directions, CHUNK_ROWS),
        }
        megabytes = rows * dim * 4 / 1e6
        cases = {name: counting(call, megabytes) for name, call in calls.items()}
        seconds, units = interleave(cases, repeats)
        peaks = {name: round(peak_alloc_mb(call), 1) for name, call in calls.items()}
    return BenchResult(
        name="precondition",
        size=str(size),
        unit="MB/s",
        setting={"rows": rows, "dim": dim, "directions": k, "damping": DAMPING},
        seconds=seconds,
        units=units,
        comparisons=[("drift", "numpy float32")],
        notes={"peak_alloc_mb": peaks},
    )
