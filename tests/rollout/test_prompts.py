"""rollout.max_prompt_tokens: prompts longer than the limit (chat template applied) are skipped
before generation with one warning naming them; none left is an error."""

import json
import logging

import pytest

from drift.config import load_config
from drift.data.tokenizer import build_char_tokenizer
from drift.errors import ConfigError, DataError
from drift.rollout import prompts as prompts_module
from drift.rollout.prompts import fit_prompts, load_prompts, prompt_lengths
from drift.types import Problem


def _problem(i: int, length: int) -> Problem:
    messages = [{"role": "user", "content": "x" * length}]
    return Problem(id=f"p{i}", messages=messages, answer="1", meta={"source": f"t.jsonl:{i + 1}"})


class CountingTokenizer:
    """The character tokenizer, counting the texts of each tokenizer call."""

    def __init__(self) -> None:
        self.tokenizer = build_char_tokenizer()
        self.calls: list[int] = []

    def apply_chat_template(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.tokenizer.apply_chat_template(*args, **kwargs)

    def __call__(self, texts, **kwargs):  # type: ignore[no-untyped-def]
        self.calls.append(len(texts))
        return self.tokenizer(texts, **kwargs)


def test_lengths_are_the_rendered_prompts_as_engines_send_them(monkeypatch) -> None:
    monkeypatch.setattr(prompts_module, "TOKENIZE_BATCH", 4)
    tokenizer = CountingTokenizer()
    conversations = [_problem(i, 3 * i).messages for i in range(10)]
    conversations[1] = [{"role": "system", "content": "S"}, *conversations[1]]
    lengths = prompt_lengths(tokenizer, conversations)  # type: ignore[arg-type]
    tok = tokenizer.tokenizer
    rendered = [
        tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False)
        for c in conversations
    ]
    assert lengths == [len(tok(t, add_special_tokens=False)["input_ids"]) for t in rendered]
    assert lengths[0] == 3  # <|user|>, <|end|>, <|assistant|> around no characters
    assert tokenizer.calls == [4, 4, 2]  # batched calls, not one per prompt


def test_long_prompts_are_skipped_with_one_warning_naming_them(caplog) -> None:
    lengths = [5, 80, 10, 90, 95, 99, 120, 7, 200, 300]
    problems = [_problem(i, n) for i, n in enumerate(lengths)]
    with caplog.at_level(logging.WARNING, logger="drift.rollout.prompts"):
        kept = fit_prompts(problems, build_char_tokenizer(), 50, "split 'train'")
    assert [p.id for p in kept] == ["p0", "p2", "p7"]
    (record,) = [r for r in caplog.records if r.name == "drift.rollout.prompts"]
    message = record.getMessage()
    assert message.startswith(
        "split 'train': skipped 7 of 10 prompts longer than rollout.max_prompt_tokens=50 tokens"
    )
    assert "p1 (t.jsonl:2, 83 tokens)" in message  # 80 characters + user, end, assistant
    assert all(f"p{i} (t.jsonl:{i + 1}," in message for i in (1, 3, 4, 5, 6))
    assert "p8" not in message and message.endswith("and 2 more")


def test_prompts_within_the_limit_pass_untouched(caplog) -> None:
    problems = [_problem(i, 47) for i in range(3)]  # 50 tokens each: exactly the limit
    with caplog.at_level(logging.WARNING):
        assert fit_prompts(problems, build_char_tokenizer(), 50, "split 'test'") == problems
    assert not caplog.records


def test_every_prompt_too_long_is_an_error() -> None:
    problems = [_problem(i, 100) for i in range(2)]
    with pytest.raises(DataError, match=r"split 'val': all 2 prompts are longer than .*=50"):
        fit_prompts(problems, build_char_tokenizer(), 50, "split 'val'")


def test_load_prompts_from_a_task_file_via_the_config(compose_cfg, tmp_path, caplog) -> None:
    rows = [
        {"id": f"q{i}", "prompt": "2+2?" * (40 if i == 2 else 1), "answer": "4"} for i in range(4)
    ]
    task = tmp_path / "task.jsonl"
    task.write_text("".join(json.dumps(r) + "\n" for r in rows))
    policy = tmp_path / "policy"
    build_char_tokenizer().save_pretrained(policy)
    overrides = ["task=metamathqa", f"task.files.train={task}", "task.filter_type=null"]
    overrides.append("rollout.max_prompt_tokens=64")
    cfg = load_config(compose_cfg(overrides))
    assert cfg.rollout.max_prompt_tokens == 64
    with caplog.at_level(logging.WARNING, logger="drift.rollout.prompts"):
        problems = load_prompts(cfg, "train", str(policy))
    assert [p.id for p in problems] == ["q0", "q1", "q3"]
    assert "skipped 1 of 4 prompts" in caplog.text and f"q2 ({task}:3, 163 tokens)" in caplog.text
    with pytest.raises(ConfigError, match=r"rollout\.max_prompt_tokens must be > 0"):
        load_config(compose_cfg(["rollout.max_prompt_tokens=0"]))


def test_load_prompts_measures_the_prompt_the_split_s_format_sends(compose_cfg, tmp_path) -> None:
    rows = [{"id": f"q{i}", "prompt": "2+2?", "answer": "4"} for i in range(3)]
    task = tmp_path / "task.jsonl"
    task.write_text("".join(json.dumps(r) + "\n" for r in rows))
    policy = tmp_path / "policy"
    build_char_tokenizer().save_pretrained(policy)
    base = ["task=metamathqa", f"task.files.train={task}", f"task.files.test={task}"]
    base += ["task.filter_type=null", "rollout.max_prompt_tokens=64"]

    def load(split: str, *overrides: str) -> list[Problem]:
        return load_prompts(load_config(compose_cfg([*base, *overrides])), split, str(policy))

    assert len(load("train", "eval.prompt_format=drift_simple")) == 3  # plain fits in 64
    # the same problems framed by the authors' protocol (system message, instruction, format
    # line, <think> prefill) are over 64 tokens: under drift_full for the rollouts' splits, and
    # for the test split under eval's format
    with pytest.raises(DataError, match="all 3 prompts"):
        load("train", "rollout.prompt_format=drift_full")
    with pytest.raises(DataError, match="all 3 prompts"):
        load("test", "eval.prompt_format=drift_simple")
    assert len(load("test", "rollout.prompt_format=drift_full")) == 3
