"""A run whose verifier, weighting and engine are all user code named by dotted paths, and the
rollout cache keyed on those paths."""

import dataclasses
import json

from drift.config import VerifierName, load_config
from drift.pipeline.rollouts import rollout_path
from drift.pipeline.run import run

PLUGINS = [
    "reward.verifier=user_plugins:second_answer_right",
    "method.weighting=user_plugins:by_sample",
    "rollout.engine=user_plugins:counting_engine",
]


def test_a_run_uses_the_users_verifier_weighting_and_engine(compose_cfg, tmp_path):
    overrides = ["debug=fast", "method=drift_iw", "model.warmup.enabled=false"]
    overrides += ["eval.sampled_samples=0", "num_threads=1", *PLUGINS]
    cfg = load_config(compose_cfg(overrides))
    metrics = run(cfg, resolved={})["methods"]["drift_iw"]

    # the engine answers 1, 2, ...; the verifier takes 2; so every episode is right at turn 2
    rows = [json.loads(line) for line in (tmp_path / "drift_iw" / "trajectories.jsonl").open()]
    assert len(rows) == cfg.task.num_train * cfg.rollout.num_samples
    for row in rows:
        assert [(t["answer"], t["correct"]) for t in row["turns"]] == [("1", False), ("2", True)]
        assert row["weight"] == row["sample_id"] + 1  # the user's weighting, not drift_iw's
    assert (metrics["acc@1"], metrics["acc@2"], metrics["acc@5"]) == (0.0, 1.0, 1.0)
    (reference,) = (tmp_path / "cache").glob("reference-*")
    assert rollout_path(cfg, str(reference)).exists()  # keyed on the dotted paths


def test_the_rollout_cache_key_holds_the_dotted_paths(compose_cfg):
    cfg = load_config(compose_cfg([]))
    key = rollout_path(cfg, "ref").name

    def with_verifier(name: str) -> str:
        reward = dataclasses.replace(cfg.reward, verifier=name)
        return rollout_path(dataclasses.replace(cfg, reward=reward), "ref").name

    def with_engine(name: str) -> str:
        rollout = dataclasses.replace(cfg.rollout, engine=name)
        return rollout_path(dataclasses.replace(cfg, rollout=rollout), "ref").name

    assert with_verifier(VerifierName.exact) == key  # built-in keys as before
    plugged = {
        with_verifier("user_plugins:second_answer_right"),
        with_verifier("user_plugins.SameLength"),
    }
    assert len(plugged) == 2 and key not in plugged
    engines = {
        with_engine("user_plugins:counting_engine"),
        with_engine("user_plugins.CountingEngine"),
    }
    assert len(engines) == 2 and key not in engines
