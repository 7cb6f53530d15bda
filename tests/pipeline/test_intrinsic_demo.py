"""End to end: experiment=intrinsic_demo at debug size on the tiny model."""

import json

import pytest

from drift.config import EnvConfig, Protocol, load_config
from drift.pipeline.run import run


@pytest.mark.slow
def test_intrinsic_demo_runs_every_attempt_and_reports_the_turn_metrics(
    compose_cfg, tmp_path, capsys
):
    overrides = ["experiment=intrinsic_demo", "debug=fast", "num_threads=1"]
    # debug=fast's 30 + 10 warm-up steps leave about one right second attempt in 32 episodes,
    # too few for rft to make an optimiser step; 100 + 20 and 8 samples give 8 in 64 (~30 s)
    warmup = ["model.warmup.steps=100", "model.warmup.multi_turn_steps=20", "rollout.num_samples=8"]
    cfg = load_config(compose_cfg([*overrides, *warmup]))
    assert cfg.env.protocol == Protocol.INTRINSIC and cfg.task.max_turns == 2
    summary = run(cfg, resolved={})
    methods = summary["methods"]
    assert list(methods) == ["reference", "uniform_sft", "rft", "drift_iw", "score"]
    assert methods["score"]["cost/optimizer_steps"] == 4  # SCoRe's two stages, 2 + 2 at debug size
    for m in methods.values():
        for prefix in ("", "sampled/"):
            acc1, acc2 = m[f"{prefix}acc@t1"], m[f"{prefix}acc@t2"]
            i2c, c2i = m[f"{prefix}delta_i2c"], m[f"{prefix}delta_c2i"]
            assert m[f"{prefix}delta"] == pytest.approx(acc2 - acc1)
            assert m[f"{prefix}delta"] == pytest.approx(i2c - c2i)
            assert m[f"{prefix}mean_turns"] == 2.0  # nobody stops after a right first answer
            assert m[f"{prefix}acc@2"] >= max(acc1, acc2)  # some attempt right
    # the shared rollouts: two attempts, the instruction between them, the return r_T
    lines = (tmp_path / "rft" / "trajectories.jsonl").read_text().splitlines()
    trajs = [json.loads(line) for line in lines]
    assert len(trajs) == cfg.task.num_train * cfg.rollout.num_samples
    for traj in trajs:
        assert len(traj["turns"]) == 2 and traj["feedback"] == EnvConfig().instruction
        malformed = sum(not t["valid"] for t in traj["turns"])
        assert traj["ret"] == pytest.approx(traj["turns"][-1]["correct"] - 0.1 * malformed)
        assert traj["weight"] == float(traj["turns"][-1]["correct"])  # rft: a right last answer
    weights = [
        json.loads(line)["weight"]
        for line in (tmp_path / "drift_iw" / "trajectories.jsonl").read_text().splitlines()
    ]
    assert sum(weights) / len(weights) == pytest.approx(1.0)
    for text in ((tmp_path / "results.md").read_text(), capsys.readouterr().out):
        assert all(label in text for label in ("acc@t1", "acc@t2", "Δ(t1,t2)", "Δi→c", "Δc→i"))
