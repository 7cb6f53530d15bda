"""Feature extraction sharded over two CPU processes (gloo) equals one process, file for file."""

import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
from forked_ranks import run_ranks
from tiny_lm import make_examples
from tiny_models import tiny_llama

from drift.attribution.config import FeatureConfig
from drift.attribution.extract import extract_features
from drift.attribution.fill import NonFiniteGradientError
from drift.attribution.scoring import direction_scores
from drift.attribution.store import FeatureStore
from drift.utils.distributed import Ranks

LENGTHS = [9, 14, 5, 11, 7, 12, 6, 10, 13, 8, 4]  # 11 examples: shards of 3 -> 4 shards
CFG = FeatureConfig(proj_in=8, proj_out=8, batch_size=2, shard_size=3)


def _features_and_scores(path, ranks=None):
    """Pool features, target features and cosine scores against the targets' sum."""
    model = tiny_llama()
    pool = extract_features(
        model, make_examples(LENGTHS, seed=3), CFG, path / "pool", pad_id=0,
        model_name="tiny", show_progress=False, ranks=ranks,
    )  # fmt: skip
    targets = extract_features(
        model, make_examples([6, 9, 7], seed=4), CFG, path / "targets", pad_id=0,
        model_name="tiny", show_progress=False, ranks=ranks,
    )  # fmt: skip
    direction = targets.load().sum(axis=0)
    scores = direction_scores((c for _, c in pool.iter_chunks(2)), direction)[:, 0]
    return pool, scores


def _nan_extraction(path):
    """An extraction whose shard 3 (rank 1's) holds an example with a NaN gradient."""
    model = tiny_llama()
    with torch.no_grad():
        model.get_input_embeddings().weight[39] = float("nan")
    examples = make_examples(LENGTHS, seed=3)
    examples[10].input_ids[1] = 39
    extract_features(model, examples, CFG, path, pad_id=0, model_name="tiny", show_progress=False)


def _worker(rank, tmp_path, port):
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    written, write = [], FeatureStore.write_shard

    def spy(store, index, *rows):
        written.append(index)
        return write(store, index, *rows)

    FeatureStore.write_shard = spy  # a forked process: the parent's class is untouched
    try:
        pool, scores = _features_and_scores(tmp_path / "two")  # ranks from the process group
        shards = list(written)
        try:
            _nan_extraction(tmp_path / "nan")
            error = ""
        except NonFiniteGradientError as err:
            error = str(err)
        np.savez(
            tmp_path / f"rank{rank}.npz",
            features=pool.load(), norms=pool.norms(), ids=np.array(pool.ids), scores=scores,
            error=np.array(error), written=np.array(shards),
        )  # fmt: skip
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch without distributed")
def test_two_ranks_write_the_store_one_process_writes(tmp_path):
    from lightning.fabric.plugins.environments.lightning import find_free_network_port

    run_ranks(_worker, (tmp_path, find_free_network_port()), "extraction")

    one, want_scores = _features_and_scores(tmp_path / "one", Ranks(0, 1))
    two = FeatureStore.open(tmp_path / "two" / "pool")
    assert two.complete and two.ids == one.ids == [e.id for e in make_examples(LENGTHS, seed=3)]
    for name in ("meta.json", *(f"ids-{k:05d}.json" for k in range(4))):
        assert (tmp_path / "two/pool" / name).read_text() == (
            tmp_path / "one/pool" / name
        ).read_text()
    np.testing.assert_allclose(two.load(), one.load(), rtol=1e-6, atol=1e-7)
    for rank in range(2):
        got = np.load(tmp_path / f"rank{rank}.npz")
        # Its own pool shards only (k % 2 == rank), then rank 0 writes the targets' one shard.
        assert got["written"].tolist() == [[0, 2, 0], [1, 3]][rank]
        assert got["ids"].tolist() == one.ids  # every rank reads the merged store
        np.testing.assert_allclose(got["features"], one.load(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got["norms"], one.norms(), rtol=1e-6)
        np.testing.assert_allclose(got["scores"], want_scores, rtol=1e-6, atol=1e-9)
        # A NaN on rank 1's shard fails both ranks (rank 0 does not wait for a commit forever).
        assert "ex-3-010" in str(got["error"])
    nan = FeatureStore.open(tmp_path / "nan")
    assert not nan.complete and nan.shard_ids(3) is None
    assert [nan.shard_ids(k) is not None for k in range(3)] == [True, True, True]
