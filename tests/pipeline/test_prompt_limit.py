"""A run on a task file with one over-long prompt per split: the rollouts, training and
evaluation never see it, and each split warns once (rollout.max_prompt_tokens)."""

import json
import logging
from contextlib import contextmanager

from scripted_engine import ScriptedEngine

from drift.config import load_config
from drift.pipeline import evaluate as evaluate_stage
from drift.pipeline import rollouts as rollout_stage
from drift.pipeline import run as run_stage

LONG = "What is 2+2? " * 20  # 260 characters: over the limit of 64 tokens of the tiny model


def _task_file(path, split: str) -> str:
    rows = [
        {
            "id": f"{split}{i}",
            "prompt": LONG if i == 1 else f"What is {i}+{i}?",
            "answer": str(2 * i),
        }
        for i in range(4)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_over_long_prompts_never_reach_generation_or_training(
    compose_cfg, tmp_path, monkeypatch, caplog
) -> None:
    train = _task_file(tmp_path / "train.jsonl", "train")
    test = _task_file(tmp_path / "test.jsonl", "test")
    overrides = ["debug=fast", "method=uniform_sft", "model.warmup.enabled=false"]
    overrides += ["task=metamathqa", "task.filter_type=null", "task.max_turns=2"]
    overrides += [f"task.files.train={train}", f"task.files.test={test}", "objective=acc@2"]
    overrides += ["rollout.max_prompt_tokens=64", "eval.sampled_samples=0", "num_threads=1"]
    cfg = load_config(compose_cfg(overrides))

    engine = ScriptedEngine(lambda conv: "<answer>4</answer>")
    monkeypatch.setattr(rollout_stage, "build_engine", lambda *args: engine)

    @contextmanager
    def scripted(*args):  # type: ignore[no-untyped-def]
        yield engine

    monkeypatch.setattr(evaluate_stage, "open_engine", scripted)
    trained: list[str] = []

    def record(cfg, method, reference, rollouts, problems, *args):  # type: ignore[no-untyped-def]
        trained.extend(t.prompt_id for t in rollouts.trajectories)
        return reference, {}

    monkeypatch.setattr(run_stage, "train_method", record)
    with caplog.at_level(logging.WARNING, logger="drift.rollout.prompts"):
        run_stage.run(cfg, resolved={})

    sent = [m["content"] for convs, _ in engine.calls for conv in convs for m in conv]
    assert "What is 3+3?" in sent and LONG not in sent
    assert sorted(set(trained)) == ["train0", "train2", "train3"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "drift.rollout.prompts"]
    assert len(warnings) == 2
    for split, message in zip(("test", "train"), warnings, strict=True):
        assert message.startswith(f"split '{split}': skipped 1 of 4 prompts")
        assert f"{split}1 ({tmp_path / split}.jsonl:2," in message
