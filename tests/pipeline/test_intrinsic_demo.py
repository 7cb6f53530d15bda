"""End to end: experiment=intrinsic_demo at debug size on the tiny model; the study preset
experiment=intrinsic_compare is the demo plus GRPO, both online methods at 800 steps."""

import dataclasses
import json

import pytest

from drift.config import EnvConfig, Protocol, load_config
from drift.pipeline.reference import reference_key
from drift.pipeline.rollouts import rollout_path
from drift.pipeline.run import run


@pytest.mark.slow
def test_intrinsic_demo_runs_every_attempt_and_reports_the_turn_metrics(
    compose_cfg, tmp_path, capsys
):
    # debug=fast with conf/debug/preset/fast_intrinsic_demo.yaml: enough right second attempts
    # for rft to make an optimiser step
    cfg = load_config(compose_cfg(["experiment=intrinsic_demo", "debug=fast", "num_threads=1"]))
    assert cfg.env.protocol == Protocol.intrinsic and cfg.task.max_turns == 2
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


def test_intrinsic_compare_is_the_demo_plus_grpo_on_the_same_cached_artifacts(compose_cfg):
    demo = load_config(compose_cfg(["experiment=intrinsic_demo"]))
    study = load_config(compose_cfg(["experiment=intrinsic_compare"]))
    methods = study.methods()
    assert list(methods) == [*demo.methods(), "grpo"]
    offline = {name: m for name, m in methods.items() if name not in ("grpo", "score")}
    assert offline == {name: m for name, m in demo.methods().items() if name != "score"}
    grpo, score = methods["grpo"], methods["score"]
    assert grpo.grpo.steps == score.grpo.steps == 800  # one online budget, compare_cost's
    assert score.score.stage1_steps == 400  # half of it in stage I, as the method's default
    assert dataclasses.replace(score, grpo=demo.methods()["score"].grpo, score=None) == (
        dataclasses.replace(demo.methods()["score"], score=None)
    )
    own = load_config(compose_cfg(["method=grpo"])).method
    assert grpo == dataclasses.replace(own, grpo=dataclasses.replace(own.grpo, steps=800))
    assert (study.env, study.task, study.model, study.rollout) == (
        demo.env,
        demo.task,
        demo.model,
        demo.rollout,
    )
    assert reference_key(study) == reference_key(demo)
    assert rollout_path(study, "reference") == rollout_path(demo, "reference")


@pytest.mark.parametrize("experiment", ["intrinsic_demo", "intrinsic_compare"])
def test_debug_fast_gives_the_intrinsic_presets_episodes_rft_can_train_on(compose_cfg, experiment):
    """conf/debug/preset/fast_<experiment>.yaml: a longer warm-up and more samples than
    debug=fast's, which left RFT one right second attempt, too few for an optimiser step."""
    cfg = load_config(compose_cfg([f"experiment={experiment}", "debug=fast"]))
    assert (cfg.model.warmup.steps, cfg.model.warmup.multi_turn_steps) == (100, 20)
    assert cfg.rollout.num_samples == 8
    assert (cfg.task.num_train, cfg.trainer.max_steps) == (8, 4)  # the rest is debug=fast's
    demo = load_config(compose_cfg(["experiment=demo", "debug=fast"]))
    assert (demo.model.warmup.steps, demo.rollout.num_samples) == (30, 4)  # no preset file
    chosen = load_config(
        compose_cfg([f"experiment={experiment}", "debug=fast", "model.warmup.steps=7"])
    )
    assert chosen.model.warmup.steps == 7  # the command line still wins
