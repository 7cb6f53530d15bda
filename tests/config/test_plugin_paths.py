"""reward.verifier, method.weighting and rollout.engine: the built-in names as before, or a
dotted path to user code, imported and checked when the config loads."""

import pytest

from drift.config import ConfigError, EngineName, VerifierName, Weighting, load_config

PLUGINS = [
    "reward.verifier=user_plugins:second_answer_right",
    "method.weighting=user_plugins:by_sample",
    "rollout.engine=user_plugins.CountingEngine",
]


@pytest.mark.parametrize(
    ("overrides", "verifier", "weighting", "engine"),
    [
        ([], VerifierName.exact, Weighting.drift_iw, EngineName.hf),
        (["reward=math", "method=rft", "rollout=vllm"], "math_verify", "rft", "vllm"),
        (["method=uniform_sft"], "exact", "uniform", "hf"),
    ],
)
def test_built_in_names_load_as_before(compose_cfg, overrides, verifier, weighting, engine):
    cfg = load_config(compose_cfg(overrides))
    assert (cfg.reward.verifier, cfg.method.weighting, cfg.rollout.engine) == (
        verifier,
        weighting,
        engine,
    )


def test_dotted_paths_load_for_all_three_keys(compose_cfg):
    cfg = load_config(compose_cfg(PLUGINS))
    assert cfg.reward.verifier == "user_plugins:second_answer_right"
    assert cfg.method.weighting == "user_plugins:by_sample"
    assert cfg.rollout.engine == "user_plugins.CountingEngine"


def test_a_compared_methods_weighting_is_checked_too(compose_cfg):
    with pytest.raises(ConfigError, match=r"^method\.weighting=user_plugins:one_argument: "):
        overrides = ["experiment=demo", "compare.drift_iw.weighting=user_plugins:one_argument"]
        load_config(compose_cfg(overrides))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("reward.verifier=exakt", "reward.verifier must be one of exact, math_verify or a dotted"),
        (
            "reward.verifier=no_such_pkg.checks:verify",
            "reward.verifier=no_such_pkg.checks:verify: cannot import module 'no_such_pkg.checks'",
        ),
        (
            "reward.verifier=user_plugins:missing",
            "reward.verifier=user_plugins:missing: 'user_plugins' has no attribute 'missing'",
        ),
        (
            "reward.verifier=user_plugins:one_argument",
            "reward.verifier=user_plugins:one_argument: a verifier must take (prediction, target)",
        ),
        (
            "method.weighting=user_plugins:counting_engine",
            "method.weighting=user_plugins:counting_engine: a weighting must take "
            "(trajectories, beta)",
        ),
        (
            "method.weighting=no_such_pkg.weigh",
            "method.weighting=no_such_pkg.weigh: cannot import module 'no_such_pkg'",
        ),
        (
            "rollout.engine=user_plugins.NoGenerate",
            "rollout.engine=user_plugins.NoGenerate: NoGenerate has no generate(conversations, "
            "params) method",
        ),
        (
            "rollout.engine=user_plugins:by_sample",
            "rollout.engine=user_plugins:by_sample: an engine factory must take (rollout, model, "
            "policy)",
        ),
        ("rollout.engine=scripted", "rollout.engine must be one of hf, vllm or a dotted path"),
    ],
)
def test_a_bad_plugin_is_a_config_error_naming_key_and_path(compose_cfg, override, message):
    with pytest.raises(ConfigError) as err:
        load_config(compose_cfg([override]))
    assert str(err.value).startswith(message)
