"""The attribution study end to end at a tiny size: schema, scores files, snapshots, reuse."""

import json

import pytest
import torch

from drift.attribution.store import FeatureStore
from drift.config import ConfigError, load_config
from drift.pipeline.attribution import check_methods, ranking_metrics, run_attribution
from drift.pipeline.run import run

TINY = [
    "experiment=attribution_demo",
    "debug=attribution_fast",
    "study.pool_size=64",
    "study.multi_turn_fraction=0.4",  # exercise the multi-turn pool and its repeat kind
    "study.corruption.repeat=0.1",
    "model.warmup.steps=2",
    "study.num_queries=8",
    "study.rollouts_per_query=2",
    "study.warmup_steps=4",
    "study.retrain_steps=2",
    "study.cg_samples=16",
    "task.num_test=8",
    "task.max_turns=2",
    "eval.sampled_samples=0",
    "rollout.max_new_tokens=12",
    "trainer.micro_batch_size=32",
    "trainer.effective_batch_size=32",
    "attribution.batch_size=32",
]


def _cfg(compose_cfg, methods, extra=()):
    cfg = load_config(compose_cfg([*TINY, *extra]))
    cfg.compare = {name: cfg.compare[name] for name in methods}
    return cfg


def _appends(monkeypatch):
    """Record the store directory of every shard written to any feature store."""
    seen = []
    original = FeatureStore.write_shard

    def spy(self, index, features, ids, norms):
        seen.append(self.path.name)
        return original(self, index, features, ids, norms)

    monkeypatch.setattr(FeatureStore, "write_shard", spy)
    return seen


def test_study_runs_end_to_end_then_reuses_features(compose_cfg, tmp_path, monkeypatch):
    cfg = _cfg(compose_cfg, ["full", "drift_if", "less", "prism"])
    summary = run(cfg, resolved={})  # the orchestrator dispatches on the methods' family
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["wall_seconds"] > 0 and written["pool"]["size"] == 64
    methods = written["methods"]
    assert list(methods)[:4] == ["full", "drift_if", "less", "prism"]
    assert methods == json.loads(json.dumps(summary["methods"]))
    assert methods["full"]["auroc"] is None and methods["full"]["kept"] == 64
    for name in ("drift_if", "less", "prism"):
        m = methods[name]
        assert 0 <= m["auroc"] <= 1 and -1 <= m["norm_spearman"] <= 1
        assert {"auroc/wrong_parity", "auroc/format", "auroc/repeat"} <= set(m)
        assert m["kept"] == 32 and 0 <= m["acc@1"] <= 1
        rows = [json.loads(line) for line in (tmp_path / name / "scores.jsonl").open()]
        assert len(rows) == 64 and sum(r["kept"] for r in rows) == 32
        episodes = (tmp_path / name / "eval" / "trajectories.jsonl").read_text().splitlines()
        assert [json.loads(e)["decoding"] for e in episodes] == ["greedy"] * 8  # num_test
        assert set(rows[0]) == {"id", "score", "grad_norm", "corrupted", "kind", "kept", "weight"}
    assert "drift_if[debias=none]" in methods and "acc@1" not in methods["drift_if[debias=none]"]

    pool = [json.loads(line) for line in (tmp_path / "pool.jsonl").open()]
    rows = [json.loads(line) for line in (tmp_path / "drift_if" / "scores.jsonl").open()]
    assert [r["id"] for r in rows] == [p["id"] for p in pool]
    assert [r["corrupted"] for r in rows] == [p["kind"] != "clean" for p in pool]

    (warm,) = (tmp_path / "cache").glob("attr-warmup-*/meta.json")
    meta = json.loads(warm.read_text())
    assert [c["step"] for c in meta["checkpoints"]] == [2, 4]
    assert all(c["mean_lr"] > 0 for c in meta["checkpoints"])
    state = torch.load(warm.parent / "ckpt-00" / "state.pt", weights_only=True)
    name = "model.layers.0.self_attn.q_proj.weight"
    assert int(state["adam"][name]["step"]) == 2
    assert state["adam"][name]["exp_avg_sq"].shape == state["params"][name].shape

    # A second run with another method reuses the warm-up, the pool's features and the
    # reference answers' features (less computed them at the final snapshot): nothing new.
    stamp = warm.stat().st_mtime_ns
    seen = _appends(monkeypatch)
    cfg2 = _cfg(compose_cfg, ["grad_sim"])
    again = run_attribution(cfg2, resolved={})
    assert warm.stat().st_mtime_ns == stamp
    assert seen == []
    assert 0 <= again["methods"]["grad_sim"]["auroc"] <= 1


def test_every_method_of_the_demo_runs(compose_cfg, tmp_path):
    cfg = load_config(compose_cfg(TINY))
    names = ["random", "grad_sim", "cg_if", "perplexity", "embedding"]
    cfg.compare = {name: cfg.compare[name] for name in names}
    cfg.study.retrain_steps = 1
    summary = run_attribution(cfg, resolved={})
    for name in names:
        assert 0 <= summary["methods"][name]["auroc"] <= 1, name
    assert summary["methods"]["cg_if"]["cg/damping"] >= cfg.compare["cg_if"].scoring.damping


def test_ranking_metrics_of_a_perfect_and_an_inverted_score():
    from drift.data.pool import build_pool

    pool = build_pool(50, 0, 4, "Incorrect.", 0.5, {"format": 0.2, "repeat": 0.2})
    clean = (~pool.corrupted).astype(float)
    norms = torch.arange(50).double().numpy()
    good = ranking_metrics(clean, pool, norms)
    assert good["auroc"] == 1 and good["auroc/format"] == 1 and good["auroc/repeat"] == 1
    assert ranking_metrics(-clean, pool, norms)["auroc"] == 0
    assert ranking_metrics(norms, pool, norms)["norm_spearman"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["compare.drift_if.scoring.fraction=0.2"], r"scoring\.fraction"),
        (["task=metamathqa"], "task=embedded"),
    ],
)
def test_bad_study_configs_name_the_key(compose_cfg, extra, match):
    cfg = load_config(compose_cfg(["experiment=attribution_demo", *extra]))
    with pytest.raises(ConfigError, match=match):
        check_methods(cfg)


def test_mixing_families_is_refused(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=attribution_demo", "+method@compare.rft=rft"]))
    with pytest.raises(ConfigError, match="family=iw"):
        check_methods(cfg)
