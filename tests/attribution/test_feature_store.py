"""Tests of drift/attribution/store.py (named apart from tests/rollout/test_store.py)."""

import json
import logging

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


def _store(tmp_path, dtype="float32", sizes=(3, 5, 2), commit=True):
    store = FeatureStore.create(tmp_path / "s", dim=4, dtype=dtype, settings=SETTINGS)
    offset = 0
    for index, n in enumerate(sizes):
        store.write_shard(index, *_rows(n, 4, offset))
        offset += n
    if commit:
        store.commit(len(sizes))
    return store


def test_roundtrip_and_reopen(tmp_path):
    _store(tmp_path)
    again = FeatureStore.open(tmp_path / "s", dim=4, dtype="float32", settings=SETTINGS)
    assert again.ids == [f"id-{i}" for i in range(10)] and again.num_rows == 10
    np.testing.assert_array_equal(again.load(), _rows(10, 4)[0])
    np.testing.assert_array_equal(again.norms(), np.arange(10, dtype=np.float32))
    assert again.complete


def test_shards_written_in_any_order_read_in_index_order(tmp_path):
    """Ranks write their shards in any order; the commit lists them by index."""
    store = FeatureStore.create(tmp_path / "s", dim=4, dtype="float32", settings=SETTINGS)
    for index, offset, n in [(2, 8, 2), (0, 0, 3), (1, 3, 5)]:
        store.write_shard(index, *_rows(n, 4, offset))
    assert store.num_rows == 0 and not store.complete  # nothing is visible before the commit
    assert store.shard_ids(1) == [f"id-{i}" for i in range(3, 8)] and store.shard_ids(3) is None
    FeatureStore.open(tmp_path / "s").commit(3)
    again = FeatureStore.open(tmp_path / "s")
    assert again.complete and again.ids == [f"id-{i}" for i in range(10)]
    np.testing.assert_array_equal(again.load(), _rows(10, 4)[0])


@pytest.mark.parametrize("chunk", [1, 3, 4, 100])
def test_chunks_cover_every_row_once(tmp_path, chunk):
    store = _store(tmp_path)
    starts, parts = zip(*store.iter_chunks(chunk), strict=True)
    assert all(len(p) <= chunk and p.dtype == np.float32 for p in parts)
    assert list(starts) == list(np.cumsum([0] + [len(p) for p in parts[:-1]]))
    np.testing.assert_array_equal(np.concatenate(parts), _rows(10, 4)[0])


def test_float16_chunks_reuse_one_float32_buffer(tmp_path):
    """A float16 store is cast chunk by chunk into one buffer: iterating it holds one float32
    chunk, never the previous one beside the next."""
    store = _store(tmp_path, dtype="float16", sizes=(3, 5, 2))
    seen, buffers = [], []
    for start, chunk in store.iter_chunks(2):
        assert chunk.dtype == np.float32 and start == sum(len(c) for c in seen)
        seen.append(chunk.copy())
        buffers.append(chunk)
    expected = _rows(10, 4)[0].astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(np.concatenate(seen), expected)
    assert all(np.shares_memory(buffers[0], b) for b in buffers[1:])
    np.testing.assert_array_equal(store.load(), expected)


def test_float32_chunks_are_views_of_the_files(tmp_path):
    store = _store(tmp_path)
    for _, chunk in store.iter_chunks(4):
        assert not chunk.flags.owndata and not chunk.flags.writeable


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


def test_uncommitted_shards_are_invisible_and_rewritable(tmp_path):
    """A crash after some shards were written but before the commit listed them."""
    _store(tmp_path, sizes=(3,), commit=False)
    np.save(tmp_path / "s/features-00001.npy", np.full((9, 4), np.nan, np.float32))
    (tmp_path / "s/ids-00001.json").write_text(json.dumps([f"ghost-{i}" for i in range(9)]))
    store = FeatureStore.open(tmp_path / "s", settings=SETTINGS)
    assert store.num_rows == 0 and not store.complete
    assert store.shard_ids(0) == ["id-0", "id-1", "id-2"]
    store.write_shard(1, *_rows(2, 4, offset=3))  # the rerun replaces the stale shard
    store.commit(2)
    reopened = FeatureStore.open(tmp_path / "s")
    assert reopened.ids == [f"id-{i}" for i in range(5)]
    assert np.isfinite(reopened.load()).all()


def test_commit_refuses_missing_shards_and_write_refuses_bad_rows(tmp_path):
    store = _store(tmp_path, sizes=(3,), commit=False)
    with pytest.raises(FileNotFoundError, match="shard 1"):
        store.commit(2)
    store.write_shard(1, *_rows(2, 4, offset=2))  # id-2 is in shard 0 as well
    with pytest.raises(ValueError, match="two shards"):
        store.commit(2)
    with pytest.raises(ValueError, match="duplicate"):
        store.write_shard(2, _rows(2, 4)[0], ["x", "x"], np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="features"):
        store.write_shard(2, np.zeros((2, 5), np.float32), ["x", "y"], np.zeros(2, np.float32))
    assert not FeatureStore.open(tmp_path / "s").complete


def _cut(path, keep=100):
    path.write_bytes(path.read_bytes()[:keep])


def test_a_truncated_shard_of_a_finished_store_is_named_and_not_read(tmp_path, caplog):
    """Opening checks every committed shard against its manifest: a broken one is named and
    the store counts as unfinished (its extraction recomputes the shard), never read."""
    _store(tmp_path)
    _cut(tmp_path / "s/features-00001.npy")
    caplog.set_level(logging.WARNING)
    store = FeatureStore.open(tmp_path / "s", dim=4, dtype="float32", settings=SETTINGS)
    assert not store.complete and store.num_rows == 0
    (warning,) = [r.message for r in caplog.records]
    assert f"feature shard 1 of {tmp_path / 's'} is broken" in warning
    assert "features-00001.npy has 100 bytes, the manifest says 208" in warning
    assert store.shard_ids(0) == ["id-0", "id-1", "id-2"] and store.shard_ids(1) is None
    store.write_shard(1, *_rows(5, 4, offset=3))  # what the extraction's rerun does
    store.commit(3)
    np.testing.assert_array_equal(FeatureStore.open(tmp_path / "s").load(), _rows(10, 4)[0])


@pytest.mark.parametrize(
    ("damage", "mismatch"),
    [
        (lambda s: _cut(s / "features-00001.npy"), "features-00001.npy has 100 bytes"),
        (lambda s: _cut(s / "norms-00001.npy", 130), "norms-00001.npy has 130 bytes"),
        (lambda s: (s / "manifest-00001.json").unlink(), "no manifest manifest-00001.json"),
    ],
)
def test_resume_trusts_only_shards_that_match_their_manifest(tmp_path, caplog, damage, mismatch):
    """An interrupted extraction resumes from shards whose files match their manifest, not from
    the ids file alone."""
    _store(tmp_path, commit=False)
    damage(tmp_path / "s")
    caplog.set_level(logging.WARNING)
    store = FeatureStore.open(tmp_path / "s")
    assert store.shard_ids(0) == ["id-0", "id-1", "id-2"] and store.shard_ids(2) == ["id-8", "id-9"]
    assert store.shard_ids(1) is None
    (warning,) = [r.message for r in caplog.records]
    assert "feature shard 1" in warning and mismatch in warning


def test_same_size_damage_is_caught_by_the_hash(tmp_path, caplog):
    _store(tmp_path)
    path = tmp_path / "s/features-00002.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    caplog.set_level(logging.WARNING)
    assert not FeatureStore.open(tmp_path / "s").complete
    assert "features-00002.npy differs from the manifest" in caplog.records[0].message


def test_a_shard_damaged_after_opening_names_its_file(tmp_path):
    store = _store(tmp_path)
    _cut(tmp_path / "s/features-00001.npy")
    with pytest.raises(ValueError, match=r"features-00001\.npy: cannot read this feature shard"):
        store.load()
