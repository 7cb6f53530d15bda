"""The Fisher benchmark at tiny size; its float32 floor solves the same system."""

from __future__ import annotations

import numpy as np

from drift.attribution.directions import chunks
from drift.attribution.precondition import fisher_inverse
from drift.bench.harness import Size
from drift.bench.precondition import DAMPING, numpy_fisher, run
from drift.bench.score import random_store


def test_numpy_floor_solves_the_same_system(tmp_path) -> None:
    store = random_store(tmp_path / "s", rows=300, dim=24, dtype="float32", shard_rows=128)
    dirs = np.random.default_rng(0).standard_normal((2, 24), dtype=np.float32)
    floor = numpy_fisher(sorted(store.path.glob("features-*.npy")), dirs, chunk_rows=50)
    np.testing.assert_allclose(floor, fisher_inverse(chunks(store), DAMPING)(dirs), rtol=1e-4)


def test_tiny_run_compares_with_the_floor() -> None:
    result = run(Size.TINY, repeats=1)
    assert list(result.summary()["ratios"]) == ["drift / numpy float32"]
    assert result.setting["dim"] == 128 and result.units["drift"] > 0
