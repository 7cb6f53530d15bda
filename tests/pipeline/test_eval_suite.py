"""eval.suite=drift_paper through the shared evaluation: a scripted policy on every benchmark's
fixture, and a tiny model end to end through evaluate_policy_dir."""

import json
from pathlib import Path

import pytest
from scripted_engine import ScriptedEngine

from drift.config import BenchmarkConfig, DriftConfig, EvalConfig, TaskConfig
from drift.enums import Benchmark, EvalSuite, PromptFormat
from drift.evaluation.drift_paper.benchmarks import SPECS, load_benchmark
from drift.models.config import ModelConfig
from drift.pipeline.eval_suite import SUITE_DIR, evaluate_suite
from drift.types import Message

FIXTURES = Path(__file__).parents[1] / "evaluation" / "drift_paper" / "fixtures"
FILES = {
    "math500": "math500.jsonl",
    "theoremqa": "theoremqa.jsonl",
    "gpqa": "gpqa.csv",
    "mmlu_redux": "mmlu_redux",
    "hendrycks_math": "hendrycks_math",
    "mmlu_pro": "mmlu_pro.parquet",
}
BENCHMARKS = {name: BenchmarkConfig(str(FIXTURES / f)) for name, f in FILES.items()}


def _cfg(**eval_kwargs: object) -> DriftConfig:
    settings = {
        "suite": EvalSuite.drift_paper,
        "benchmarks": BENCHMARKS,
        "prompt_format": PromptFormat.drift_simple,
        "suite_max_turns": 3,
        "suite_max_new_tokens": 7,
        **eval_kwargs,
    }
    return DriftConfig(eval=EvalConfig(**settings), task=TaskConfig(max_turns=2), objective="acc@2")


def test_a_policy_right_on_its_second_try_everywhere(tmp_path: Path) -> None:
    golds = {
        p.meta["question"]: p.answer
        for name, bench in BENCHMARKS.items()
        for p in load_benchmark(Benchmark(name), bench)
    }

    def reply(conv: list[Message]) -> str:  # after the <think> prefill
        question = next(q for q in golds if f"Problem:\n{q}\n" in conv[1]["content"])
        tries = sum(m["role"] == "assistant" for m in conv)  # the prefill counts as one
        answer = golds[question] if tries == 2 else "wrong"
        return f" hmm </think> <answer>{answer}</answer>"

    engine = ScriptedEngine(reply)
    metrics = evaluate_suite(engine, _cfg(), tmp_path)
    for name in FILES:
        assert metrics[f"drift_paper/{name}/acc@1"] == 0.0
        assert metrics[f"drift_paper/{name}/acc@2"] == 1.0
        assert metrics[f"drift_paper/{name}/correction_rate@t2"] == 1.0
        assert metrics[f"drift_paper/{name}/valid_rate"] == 1.0
    first = engine.calls[0][0][0]  # the first request: MATH-500's first problem
    assert first[0] == {"role": "system", "content": "You're a helpful assistant. "}
    assert first[1]["content"].startswith(SPECS[Benchmark.math500].instruction + "\n\nProblem:\n")
    assert first[-1] == {"role": "assistant", "content": "<think>"}
    params = engine.calls[0][1]
    assert params.temperature == 0.0 and params.max_new_tokens == 7
    gpqa = next(c[0][0] for c in engine.calls if "(A-D)" in c[0][0][1]["content"])
    assert gpqa[1]["content"].startswith(SPECS[Benchmark.gpqa].instruction)
    second = next(c[0][0] for c in engine.calls if len(c[0][0]) > 3)
    assert second[3] == {"role": "user", "content": "Incorrect. Please think again."}
    out = tmp_path / SUITE_DIR
    tables = (out / "tables.md").read_text()
    assert all(f"**{s.label}**" in tables for s in SPECS.values())
    assert json.loads((out / "metrics.json").read_text())["gpqa"]["n"] == 2
    episodes = (out / "mmlu_pro.jsonl").read_text().splitlines()
    assert len(episodes) == 2 and json.loads(episodes[0])["decoding"] == "greedy"


def test_a_subset_and_the_plain_format(tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda conv: "<answer>B</answer>")
    cfg = _cfg(suite_benchmarks=["gpqa"], prompt_format=PromptFormat.plain, suite_max_turns=1)
    metrics = evaluate_suite(engine, cfg, tmp_path)
    assert {k.split("/")[1] for k in metrics} == {"gpqa"}
    assert metrics["drift_paper/gpqa/acc@1"] == 0.5  # the second question's gold is B
    conv = engine.calls[0][0][0]
    assert conv == [
        {"role": "user", "content": conv[0]["content"]},
    ] and conv[0]["content"].endswith("\n\n" + SPECS[Benchmark.gpqa].instruction)


def test_a_tiny_model_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from drift.models.factory import export_hf, load_policy
    from drift.pipeline.evaluate import TURN_TABLE_FILE, evaluate_policy_dir

    model_cfg = ModelConfig(name_or_path="tiny")
    model_cfg.tiny.max_position_embeddings = 2048
    model_cfg.warmup.enabled = False
    model, tokenizer = load_policy(model_cfg)
    policy = export_hf(model, tokenizer, tmp_path / "policy")
    one_each = {name: BenchmarkConfig(b.path, limit=1) for name, b in BENCHMARKS.items()}
    cfg = _cfg(
        sampled_samples=0,
        max_new_tokens=2,
        benchmarks=one_each,
        suite_max_turns=2,
        suite_max_new_tokens=2,
    )
    cfg.model = model_cfg
    cfg.rollout.device = "cpu"
    problems = load_benchmark(Benchmark.math500, BENCHMARKS["math500"])[:1]
    metrics = evaluate_policy_dir(cfg, str(policy), problems, tmp_path / "run")
    assert "acc@1" in metrics  # the test split's own evaluation, then the suite's
    for name in FILES:
        assert metrics[f"drift_paper/{name}/n"] == metrics[f"drift_paper/{name}/attempts@t1"] == 1
        assert 0.0 <= metrics[f"drift_paper/{name}/acc@2"] <= 1.0
    assert (tmp_path / "run" / SUITE_DIR / "tables.md").is_file()
    turns = (tmp_path / "run" / TURN_TABLE_FILE).read_text()  # the test split, per turn
    assert turns.startswith("**embedded test split, drift_simple** (1 problems)")
    assert "| 2 | " in turns and "valid_rate" in turns
