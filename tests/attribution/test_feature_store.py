"""Tests of drift/attribution/store.py (named apart from tests/rollout/test_store.py)."""

import json

import numpy as np
import pytest

from drift.attribution.store import FeatureStore, StoreMismatchError

SETTINGS = {"model": "tiny", "layers": [["a", 4, 8]], "seed": 0, "examples_hash": "abc"}


def _rows(n, dim, offset=0):
    feats = np.arange(offset * dim, (offset + n) * dim, dtype=np.float32).reshape(n, dim) / 7
    return (
        feats,
        [f"id-{offset + i}" for i in range(n)],
        np.arange(offset, offset + n, dtype=np.float32),
    )


def _store(tmp_path, dtype="float32", sizes=(3, 5, 2)):
    store = FeatureStore.create(tmp_path / "s", dim=4, dtype=dtype, settings=SETTINGS)
    offset = 0
    for n in sizes:
        store.append(*_rows(n, 4, offset))
        offset += n
    return store


def test_roundtrip_and_reopen(tmp_path):
    _store(tmp_path)
    again = FeatureStore.open(tmp_path / "s", dim=4, dtype="float32", settings=SETTINGS)
    assert again.ids == [f"id-{i}" for i in range(10)] and again.num_rows == 10
    np.testing.assert_array_equal(again.load(), _rows(10, 4)[0])
    np.testing.assert_array_equal(again.norms(), np.arange(10, dtype=np.float32))
    assert not again.complete
    again.mark_complete()
    assert FeatureStore.open(tmp_path / "s").complete


@pytest.mark.parametrize("chunk", [1, 3, 4, 100])
def test_chunks_cover_every_row_once(tmp_path, chunk):
    store = _store(tmp_path)
    starts, parts = zip(*store.iter_chunks(chunk), strict=True)
    assert all(len(p) <= chunk and p.dtype == np.float32 for p in parts)
    assert list(starts) == list(np.cumsum([0] + [len(p) for p in parts[:-1]]))
    np.testing.assert_array_equal(np.concatenate(parts), _rows(10, 4)[0])


def test_streamed_dot_matches_dense(tmp_path):
    store = _store(tmp_path, dtype="float16")
    queries = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    expected = store.load() @ queries.T
    np.testing.assert_allclose(store.dot(queries, chunk_rows=2), expected, rtol=1e-6)
    assert (
        store.dtype == np.float16 and np.load(tmp_path / "s/features-00000.npy").dtype == np.float16
    )


def test_mismatched_settings_are_refused_with_keys_named(tmp_path):
    _store(tmp_path)
    other = {**SETTINGS, "seed": 1, "checkpoint": "step-10"}
    with pytest.raises(StoreMismatchError, match=r"settings\.checkpoint(.|\n)*settings\.seed"):
        FeatureStore.open_or_create(tmp_path / "s", 4, "float32", other)
    with pytest.raises(StoreMismatchError, match="dim"):
        FeatureStore.open(tmp_path / "s", dim=8)
    with pytest.raises(StoreMismatchError, match="dtype"):
        FeatureStore.open(tmp_path / "s", dtype="float16")
    with pytest.raises(FileExistsError):
        FeatureStore.create(tmp_path / "s", 4, "float32", SETTINGS)


def test_unlisted_shard_from_a_crash_is_ignored_and_replaced(tmp_path):
    """A crash after a shard's files were renamed but before meta.json listed it."""
    _store(tmp_path, sizes=(3,))
    np.save(tmp_path / "s/features-00001.npy", np.full((9, 4), np.nan, np.float32))
    (tmp_path / "s/ids-00001.json").write_text(json.dumps(["ghost"] * 9))
    store = FeatureStore.open(tmp_path / "s", settings=SETTINGS)
    assert store.num_rows == 3 and "ghost" not in store.ids
    store.append(*_rows(2, 4, offset=3))
    reopened = FeatureStore.open(tmp_path / "s")
    assert reopened.ids == [f"id-{i}" for i in range(5)]
    assert np.isfinite(reopened.load()).all()


def test_append_refuses_duplicates_and_bad_shapes(tmp_path):
    store = _store(tmp_path, sizes=(3,))
    with pytest.raises(ValueError, match="duplicate"):
        store.append(*_rows(2, 4, offset=2))
    with pytest.raises(ValueError, match="features"):
        store.append(np.zeros((2, 5), np.float32), ["x", "y"], np.zeros(2, np.float32))
    assert FeatureStore.open(tmp_path / "s").num_rows == 3
