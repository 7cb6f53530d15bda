"""Streamed scores and LESS's aggregation."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest

from drift.attribution.scoring import (
    direction_scores,
    less_aggregate,
    less_checkpoint_scores,
    stream_scores_with_norms,
)
from drift.attribution.scoring_config import DebiasMode
from drift.attribution.targets import TargetSet
from drift.types import TrainExample


def _chunks(x: np.ndarray, sizes: list[int]):
    starts = np.cumsum([0, *sizes])
    assert starts[-1] == len(x)
    return (x[a:b] for a, b in itertools.pairwise(starts))


def test_stream_equals_dense_with_odd_chunks() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(101, 13)).astype(np.float32)
    dirs = rng.normal(size=(3, 13))
    scores, norms = stream_scores_with_norms(_chunks(feats, [7, 1, 50, 0, 43]), dirs)
    exact = feats.astype(np.float64) @ dirs.T  # the float64 products scoring used to take
    np.testing.assert_allclose(scores, exact, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norms, np.linalg.norm(feats.astype(np.float64), axis=1), rtol=1e-6)
    one, _ = stream_scores_with_norms(_chunks(feats, [100, 1]), dirs[0])
    assert one.shape == (101, 1)
    np.testing.assert_allclose(one[:, 0], exact[:, 0], rtol=1e-5, atol=1e-5)


def test_stream_takes_no_float64_copy_of_a_chunk() -> None:
    """A float32 chunk goes to BLAS as it is: scoring allocates far less than its size."""
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(4096, 512)).astype(np.float32)  # 8 MB
    dirs = rng.normal(size=(1, 512))
    tracemalloc.start()
    try:
        stream_scores_with_norms([feats], dirs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < feats.nbytes / 8  # a float64 copy, or a finiteness mask, would exceed it


def test_stream_names_the_bad_row() -> None:
    feats = np.ones((10, 4), dtype=np.float32)
    feats[8, 2] = np.nan
    with pytest.raises(ValueError, match=r"feature row 8 \(chunk 1\)"):
        stream_scores_with_norms(_chunks(feats, [5, 5]), np.ones(4))
    feats[8, 2], feats[3, 0] = 1.0, -np.inf
    with pytest.raises(ValueError, match=r"feature row 3 \(chunk 0\)"):
        stream_scores_with_norms(_chunks(feats, [5, 5]), np.ones(4))
    with pytest.raises(ValueError, match="chunk 0"):
        stream_scores_with_norms([np.ones((2, 3))], np.ones(4))


def test_direction_scores_cosine() -> None:
    feats = np.array([[3.0, 4.0], [0.0, 2.0], [0.0, 0.0]])
    out = direction_scores([feats], np.array([1.0, 0.0]), DebiasMode.cosine)
    np.testing.assert_allclose(out[:, 0], [0.6, 0.0, 0.0])


def test_less_checkpoint_scores_are_mean_cosines_per_task() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=(20, 6))
    val = rng.normal(size=(5, 6))
    groups = np.array([0, 1, 0, 1, 1])
    targets = TargetSet(
        [TrainExample(str(i), []) for i in range(5)], np.ones(5), groups, ["a", "b"]
    )
    out = less_checkpoint_scores(_chunks(train, [3, 17]), val, targets)
    cos = (train / np.linalg.norm(train, axis=1, keepdims=True)) @ (
        val / np.linalg.norm(val, axis=1, keepdims=True)
    ).T  # [N, M]
    expected = np.stack([cos[:, groups == 0].mean(1), cos[:, groups == 1].mean(1)], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_less_aggregate_sums_checkpoints_then_max_over_tasks() -> None:
    s = np.array(
        [
            [[1.0, 0.0], [0.0, 2.0]],  # checkpoint 0: N=2, T=2
            [[0.0, 3.0], [1.0, 0.0]],  # checkpoint 1
        ]
    )
    lrs = np.array([2.0, 0.5])
    # example 0: tasks (2, 1.5) -> 2; example 1: tasks (0.5, 4) -> 4
    np.testing.assert_allclose(less_aggregate(s, lrs), [2.0, 4.0])
    with pytest.raises(ValueError, match="lrs"):
        less_aggregate(s, np.ones(3))
