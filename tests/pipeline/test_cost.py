"""Cost accounting per method and the compare_cost preset (composition and a debug-size run)."""

import json

import pytest
import torch

from drift.config import MethodConfig, MethodFamily, load_config
from drift.pipeline.cost import COST_KEYS, method_cost
from drift.pipeline.run import run
from drift.training.grpo_config import AdvantageLevel, GRPOSettings

OFFLINE = ["uniform_sft", "rft", "drift_iw", "drift_iw_k3"]


@pytest.fixture
def restore_threads():
    """Give back torch's thread count after a run that sets ``num_threads``."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_offline_cost_sums_rollout_and_training_seconds():
    stats = {
        "train/final_loss": 0.5,
        "cost/generated_tokens": 1000.0,
        "cost/rollout_seconds": 3.0,
        "cost/optimizer_steps": 7.0,
        "cost/train_seconds": 4.5,
    }
    cost = method_cost(MethodConfig(name="rft"), stats)
    assert list(cost)[:3] == list(COST_KEYS)
    assert cost["cost/wall_seconds"] == 7.5 and cost["cost/optimizer_steps"] == 7.0
    assert cost["cost/rollout_seconds"] == 3.0 and "train/final_loss" not in cost


def test_reference_costs_nothing_and_grpo_keeps_its_own_wall_time():
    assert method_cost(MethodConfig(name="reference", train=False), {}) == dict.fromkeys(
        COST_KEYS, 0.0
    )
    grpo = MethodConfig(name="grpo", family=MethodFamily.grpo, grpo=GRPOSettings())
    stats = {"cost/generated_tokens": 10.0, "cost/wall_seconds": 2.0, "cost/optimizer_steps": 1}
    assert method_cost(grpo, {**stats, "cost/episodes": 4.0}) == {**stats, "cost/episodes": 4.0}
    assert method_cost(MethodConfig(name="x"), {"train/loss": 1.0}) == {}  # nothing invented


def test_compare_cost_preset_runs_six_methods_with_three_rounds(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=compare_cost"]))
    methods = cfg.methods()
    assert list(methods) == ["reference", *OFFLINE, "grpo"]
    assert {k: m.name for k, m in methods.items()} == {k: k for k in methods}
    assert [methods[k].rounds for k in OFFLINE] == [1, 1, 1, 3]
    assert methods["drift_iw_k3"].weighting == methods["drift_iw"].weighting
    grpo = methods["grpo"]
    assert grpo.family == MethodFamily.grpo and grpo.grpo.advantage is AdvantageLevel.turn
    assert (grpo.grpo.steps, grpo.grpo.lr, grpo.grpo.beta) == (800, 5e-4, 0.04)
    demo = load_config(compose_cfg(["experiment=demo"]))  # same cached reference and rollouts
    assert (cfg.task, cfg.model, cfg.rollout, cfg.reward) == (
        demo.task,
        demo.model,
        demo.rollout,
        demo.reward,
    )
    tuned = load_config(
        compose_cfg(
            ["experiment=compare_cost", "compare.grpo.grpo.lr=1e-4", "compare.drift_iw_k3.rounds=2"]
        )
    )
    assert tuned.methods()["grpo"].grpo.lr == 1e-4 and tuned.methods()["drift_iw_k3"].rounds == 2


@pytest.mark.slow
def test_compare_cost_at_debug_size_reports_every_cost(compose_cfg, tmp_path, restore_threads):
    # one thread: two threads on a busy 2-core machine ran this 5x slower
    overrides = ["experiment=compare_cost", "debug=fast", "num_threads=1", "trainer.max_steps=2"]
    overrides += ["task.num_train=16", "task.num_test=4", "rollout.num_samples=2"]
    overrides += ["eval.sampled_samples=0", "compare.drift_iw_k3.rounds=2"]
    grpo = ["steps=2", "num_generations=2", "per_device_train_batch_size=4"]
    overrides += [f"compare.grpo.grpo.{o}" for o in grpo]
    summary = run(load_config(compose_cfg(overrides)), resolved={})
    methods = summary["methods"]
    assert list(methods) == ["reference", *OFFLINE, "grpo"]
    assert all(set(COST_KEYS) <= set(m) for m in methods.values())
    assert [methods["reference"][k] for k in COST_KEYS] == [0.0, 0.0, 0.0]
    shared = methods["drift_iw"]["cost/generated_tokens"]
    assert shared > 0 and all(methods[k]["cost/generated_tokens"] == shared for k in OFFLINE[:3])
    # drift_iw_k3: round 1 trains on the shared set, round 2 on a fresh one from round 1's policy
    fresh = json.loads((tmp_path / "drift_iw_k3" / "round2" / "rollouts.meta.json").read_text())
    k3 = methods["drift_iw_k3"]
    assert k3["cost/generated_tokens"] == shared + fresh["generated_tokens"]
    assert k3["cost/optimizer_steps"] == 2 * methods["drift_iw"]["cost/optimizer_steps"]
    assert k3["cost/wall_seconds"] == pytest.approx(
        k3["cost/rollout_seconds"] + k3["cost/train_seconds"]
    )
    assert k3["cost/rollout_seconds"] > methods["drift_iw"]["cost/rollout_seconds"]
    assert methods["grpo"]["cost/optimizer_steps"] == 2
    assert methods["grpo"]["cost/generated_tokens"] > 0
    assert (tmp_path / "drift_iw" / "policy" / "config.json").exists()  # apart from drift_iw_k3
    assert "generated tokens" in (tmp_path / "results.md").read_text()
    metrics = json.loads((tmp_path / "drift_iw_k3" / "metrics.json").read_text())
    assert metrics["cost/wall_seconds"] == k3["cost/wall_seconds"]
