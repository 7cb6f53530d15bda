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
