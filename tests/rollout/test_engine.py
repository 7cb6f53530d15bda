import pytest
import user_plugins
from scripted_engine import ScriptedEngine

from drift.errors import ConfigError
from drift.rollout.engine import SamplingParams, require_engine, user_engine_factory


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


def test_a_built_in_engine_has_no_factory() -> None:
    assert user_engine_factory("hf") is None and user_engine_factory("vllm") is None
    with pytest.raises(ConfigError, match=r"rollout\.engine must be one of hf, vllm or a dotted"):
        user_engine_factory("scripted")


def test_an_engine_factory_of_the_users_is_a_function_or_a_class() -> None:
    assert user_engine_factory("user_plugins:counting_engine") is user_plugins.counting_engine
    assert user_engine_factory("user_plugins.CountingEngine") is user_plugins.CountingEngine


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "user_plugins:second_answer_right",
            "an engine factory must take (rollout, model, policy)",
        ),
        ("user_plugins.NoGenerate", "NoGenerate has no generate(conversations, params) method"),
        ("user_plugins:nothing", "'user_plugins' has no attribute 'nothing'"),
        ("no_such_module.Engine", "cannot import module 'no_such_module'"),
    ],
)
def test_an_engine_factory_that_breaks_the_contract_is_a_config_error(path, message) -> None:
    with pytest.raises(ConfigError) as err:
        user_engine_factory(path)
    assert str(err.value).startswith(f"rollout.engine={path}: {message}")


def test_require_engine_checks_generate_on_an_engine_or_its_class() -> None:
    require_engine("p", ScriptedEngine(str))
    require_engine("p", ScriptedEngine)
    with pytest.raises(ConfigError, match=r"^rollout\.engine=p: object has no generate"):
        require_engine("p", object())
