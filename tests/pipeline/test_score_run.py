"""End to end: method=score (SCoRe on the GRPO trainer) at debug size on the tiny model."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from drift.config import load_config
from drift.pipeline.reference import ensure_reference
from drift.pipeline.run import run


@pytest.mark.slow
def test_score_trains_both_stages_and_exports_a_loadable_policy(compose_cfg, tmp_path):
    overrides = ["method=score", "env.protocol=intrinsic", "task.max_turns=2", "debug=fast"]
    overrides += ["num_threads=1", "eval.sampled_samples=0", "method.grpo.logging_steps=1"]
    overrides += ["method.grpo.num_generations=4", "method.grpo.per_device_train_batch_size=8"]
    cfg = load_config(compose_cfg(overrides))
    summary = run(cfg, resolved={})
    metrics = summary["methods"]["score"]
    assert metrics["cost/optimizer_steps"] == 4  # debug=fast's trainer.max_steps: 2 + 2
    assert metrics["mean_turns"] == 2.0 and "delta_c2i" in metrics
    rows = [json.loads(line) for line in (tmp_path / "score" / "grpo_log.jsonl").open()]
    assert [row["phase"] for row in rows if "phase" in row] == [1.0, 1.0, 2.0, 2.0]
    assert all(row["kl"] >= 0 for row in rows if "kl" in row)  # the reference is there
    policy = tmp_path / "score" / "policy"
    after = AutoModelForCausalLM.from_pretrained(policy).state_dict()
    before = AutoModelForCausalLM.from_pretrained(ensure_reference(cfg)).state_dict()
    assert any(not torch.equal(v, before[k]) for k, v in after.items()), "SCoRe changed nothing"
    tok = AutoTokenizer.from_pretrained(policy)
    assert tok.decode(tok("<answer>3</answer>")["input_ids"]) == "<answer>3</answer>"
