"""The scoring benchmark at tiny size, and its numpy floor against the project's scores."""

from __future__ import annotations

import numpy as np

from drift.attribution.directions import chunks
from drift.attribution.scoring import stream_scores_with_norms
from drift.bench.harness import Size
from drift.bench.score import numpy_pass, random_store, run


def test_numpy_floor_computes_the_same_products(tmp_path) -> None:
    store = random_store(tmp_path / "s", rows=50, dim=16, dtype="float16", shard_rows=16)
    queries = np.random.default_rng(0).standard_normal((3, 16), dtype=np.float32)
    floor = numpy_pass(sorted(store.path.glob("features-*.npy")), queries, chunk_rows=7)
    scores, _ = stream_scores_with_norms(chunks(store), queries)
    assert store.num_rows == 50
    np.testing.assert_allclose(floor, scores, rtol=1e-5, atol=1e-5)


def test_tiny_run_reports_both_dtypes() -> None:
    result = run(Size.TINY, repeats=1)
    ratios = result.summary()["ratios"]
    assert set(ratios) == {"drift float32 / numpy float32", "drift float16 / numpy float16"}
    assert all(r["min"] > 0 for r in ratios.values())
    assert set(result.notes["peak_alloc_mb"]) == set(result.seconds)
