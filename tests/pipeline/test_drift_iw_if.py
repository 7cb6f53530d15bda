"""method=drift_iw_if end to end at a tiny size: influence-modified weights, caching, rounds."""

import json

import numpy as np
import pytest
import torch

from drift.config import load_config
from drift.pipeline.run import run
from drift.rollout.store import read_trajectories
from drift.weighting.influence import combine_influence
from drift.weighting.trajectory import drift_iw_weights

TINY = [
    "method=drift_iw_if",
    "debug=fast",
    "task.num_train=12",
    "task.num_test=8",
    "eval.sampled_samples=0",
    "method.influence.num_queries=4",
    "method.influence.rollouts_per_query=2",
    "trainer.max_steps=2",
    "model.warmup.steps=10",
    "num_threads=1",  # two threads on a busy 2-core machine ran several times slower
]


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _check_weights(path, combine, temperature=1.0):
    trajs = read_trajectories(path)
    ids = [t.prompt_id for t in trajs]
    scores = np.array([t.influence for t in trajs])
    iw = drift_iw_weights(ids, np.array([t.ret for t in trajs]), 0.1)
    expected = combine_influence(ids, iw, scores, combine, temperature)
    np.testing.assert_allclose([t.weight for t in trajs], expected, rtol=1e-9, atol=1e-12)
    assert not np.allclose(expected, iw)  # the influence changed the return weights
    return trajs


@pytest.mark.slow
def test_drift_iw_if_writes_influence_weights_and_reuses_its_artifacts(compose_cfg, tmp_path):
    cfg = load_config(compose_cfg(TINY))
    summary = run(cfg, resolved={})
    trajs = _check_weights(tmp_path / "drift_iw_if" / "trajectories.jsonl", "product")
    assert len(trajs) == cfg.task.num_train * cfg.rollout.num_samples
    metrics = json.loads((tmp_path / "drift_iw_if" / "metrics.json").read_text())
    assert metrics["targets/queries"] == 4 and metrics["cost/influence_seconds"] > 0
    assert 0 <= metrics["influence/negative_fraction"] <= 1
    assert summary["methods"]["drift_iw_if"]["cost/influence_seconds"] > 0
    cache = tmp_path / "cache"
    assert len(list(cache.glob("features-iw-*"))) == 2  # trajectories and validation targets
    stamps = {p: p.stat().st_mtime_ns for p in cache.iterdir()}
    run(cfg, resolved={})
    assert {p: p.stat().st_mtime_ns for p in cache.iterdir()} == stamps


@pytest.mark.slow
def test_drift_iw_if_scores_every_round_under_the_policy_that_sampled_it(compose_cfg, tmp_path):
    overrides = [*TINY, "method.rounds=2", "method.influence.combine=drop_negative"]
    run(load_config(compose_cfg(overrides)), resolved={})
    for r in (1, 2):
        trajs = _check_weights(
            tmp_path / "drift_iw_if" / f"round{r}" / "trajectories.jsonl", "drop_negative"
        )
        assert all(t.weight == 0 for t in trajs if t.influence < 0)
    # round 2's policy is this run's own: its features stay in the round's directory
    assert len(list((tmp_path / "drift_iw_if" / "round2").glob("features-iw-*"))) == 2
    assert len(list((tmp_path / "cache").glob("features-iw-*"))) == 2  # round 1: the reference
