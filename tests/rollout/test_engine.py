import pytest
from scripted_engine import ScriptedEngine

from drift.rollout.engine import SamplingParams


def test_sampling_params_checks() -> None:
    assert SamplingParams(0.0, 1.0, 8, None).greedy
    assert not SamplingParams(0.7, 0.9, 8, 1).greedy
    with pytest.raises(ValueError, match="temperature"):
        SamplingParams(-0.1, 1.0, 8, None)
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(1.0, 0.0, 8, None)
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingParams(1.0, 1.0, 0, None)


def test_scripted_engine_records_calls() -> None:
    engine = ScriptedEngine(lambda conv: conv[-1]["content"].upper())
    params = SamplingParams(1.0, 1.0, 4, 3)
    convs = [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]]
    assert engine.generate(convs, params) == ["A", "B"]
    convs[0][0]["content"] = "changed"
    assert engine.calls == [
        ([[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]], params)
    ]


def test_render_prompts_continues_a_final_assistant_message() -> None:
    from drift.data.tokenizer import build_char_tokenizer
    from drift.rollout.engine import continues, render_prompts

    tok = build_char_tokenizer()
    user = [{"role": "user", "content": "2 + 3?"}]
    prefilled = [*user, {"role": "assistant", "content": "<think>"}]
    assert not continues(user) and continues(prefilled)
    assert render_prompts(tok, [prefilled, user]) == [
        "<|user|>2 + 3?<|end|><|assistant|><think>",
        "<|user|>2 + 3?<|end|><|assistant|>",
    ]
