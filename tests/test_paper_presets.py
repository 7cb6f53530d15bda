"""The paper presets build every object short of loading weights (no GPU, no hub here), and
the DRIFT-IW one runs end to end at toy size on CPU."""

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

from drift.config import load_config
from drift.data.sources import load_problems
from drift.pipeline.run import run
from drift.reward.returns import judge_turn
from drift.reward.verifiers import build_verifier
from drift.training.fit import build_trainer
from drift.training.module import WeightedSFTModule, decay_groups, lr_scheduler

FIXTURES = Path(__file__).parent / "data" / "fixtures"

# Qwen2.5-3B-Instruct's published shape (config.json), to build the module without weights.
QWEN25_3B = dict(
    vocab_size=151936,
    hidden_size=2048,
    intermediate_size=11008,
    num_hidden_layers=36,
    num_attention_heads=16,
    num_key_value_heads=2,
    max_position_embeddings=32768,
    tie_word_embeddings=True,
)


def test_drift_iw_paper_builds_short_of_weights(compose_cfg, tmp_path):
    cfg = load_config(
        compose_cfg(
            [
                "experiment=drift_iw_paper",
                f"task.files.train={FIXTURES / 'metamathqa_tiny.jsonl'}",
                f"task.files.test={FIXTURES / 'math500_tiny.jsonl'}",
            ]
        )
    )
    train = load_problems(cfg.task, "train")
    # the GSM record filtered out, the rest in the order of a seed-42 shuffle (task.sample_seed)
    assert [p.answer for p in train] == ["9", "12", "\\frac{5}{6}"]
    assert "<answer>" in train[0].messages[-1]["content"]
    test = load_problems(cfg.task, "test")
    verifier = build_verifier(cfg.reward.verifier)
    turn = judge_turn("<think>6/8 = 3/4</think><answer>0.75</answer>", test[0].answer, verifier)
    assert turn.correct and turn.valid

    with torch.device("meta"):
        model = Qwen2ForCausalLM(Qwen2Config(**QWEN25_3B))
    assert sum(p.numel() for p in model.parameters()) > 3.0e9
    module = WeightedSFTModule(model, cfg.trainer)
    groups = decay_groups(module.model, cfg.trainer.weight_decay)
    assert {g["weight_decay"] for g in groups} == {0.0, 0.1}
    total = 100
    warmup = int(cfg.trainer.warmup_ratio * total)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = lr_scheduler(optimizer, cfg.trainer.schedule, total, warmup)
    factors = [scheduler.lr_lambdas[0](s) for s in (0, warmup, total - 1)]
    assert factors == [0.0, 1.0, 1.0]  # constant after 10% warm-up
    trainer = build_trainer(
        cfg.trainer.__class__(**{**cfg.trainer.__dict__, "accelerator": "cpu"}),
        tmp_path,
        progress=False,
    )
    assert trainer.accumulate_grad_batches == 128 // 4
    assert cfg.trainer.precision == "bf16-mixed"


# The paper preset with every size knob turned down: a Qwen2-architecture model built from a
# config (model=qwen2.5-0.5b-shaped with a tiny shape), MetaMathQA-format training prompts,
# math-verify rewards, five-turn rollouts, weighted SFT and MATH500-format evaluation, on CPU.
SMALL_PAPER = [
    "experiment=drift_iw_paper",
    "model=qwen2.5-0.5b-shaped",
    "model.dtype=float32",
    "model.tiny.hidden_size=64",
    "model.tiny.num_layers=2",
    "model.tiny.num_heads=2",
    "model.tiny.num_kv_heads=1",
    "model.tiny.intermediate_size=128",
    "model.tiny.max_position_embeddings=1024",
    f"task.files.train={FIXTURES / 'metamathqa_tiny.jsonl'}",
    f"task.files.test={FIXTURES / 'math500_tiny.jsonl'}",
    "rollout.num_samples=2",
    "rollout.max_new_tokens=12",
    "rollout.batch_size=8",
    "eval.max_new_tokens=12",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",
    "trainer.micro_batch_size=2",
    "trainer.effective_batch_size=4",
    "trainer.max_length=1024",
    "logger=none",
]


@pytest.mark.slow
def test_drift_iw_paper_runs_end_to_end_on_a_small_qwen2(compose_cfg, tmp_path):
    cfg = load_config(compose_cfg(SMALL_PAPER))
    summary = run(cfg, resolved={})
    assert list(summary["methods"]) == ["drift_iw"]
    metrics = summary["methods"]["drift_iw"]
    assert 0.0 <= metrics["acc@1"] <= metrics["acc@5"] <= 1.0

    written = [json.loads(line) for line in (tmp_path / "drift_iw" / "trajectories.jsonl").open()]
    assert len(written) == 3 * cfg.rollout.num_samples  # 3 MATH prompts (GSM record filtered)
    assert {len(t["turns"]) for t in written} <= set(range(1, cfg.task.max_turns + 1))
    assert abs(sum(t["weight"] for t in written) / len(written) - 1.0) < 1e-6
    # the authors' full mode: their system message and turn blocks, every reply after <think>
    assert {t["prompt"][0]["content"] for t in written} == {"You're a helpful assistant. "}
    assert all("Turn 1:\nState:\n" in t["prompt"][1]["content"] for t in written)
    assert all(turn["text"].startswith("<think>") for t in written for turn in t["turns"])
    assert all(u.startswith("Reward:\n0.0\nTurn ") for t in written for u in t.get("users", []))

    policy = AutoModelForCausalLM.from_pretrained(tmp_path / "drift_iw" / "policy")
    assert policy.config.model_type == "qwen2" and policy.config.num_key_value_heads == 1
    assert AutoTokenizer.from_pretrained(tmp_path / "drift_iw" / "policy").chat_template
