"""Every config group option and every experiment preset composes and passes validation."""

import re
from pathlib import Path

import pytest
import yaml
from config_refusal import refused
from omegaconf import open_dict

from drift.config import BatchOrder, ConfigError, Truncation, load_config

CONF = Path(__file__).resolve().parents[2] / "conf"
GROUPS = ["task", "model", "method", "rollout", "reward", "trainer", "logger"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


# Options that run only beside other settings (tests/training/test_score.py checks the error).
NEEDS = {"method=score": ["env.protocol=intrinsic", "task.max_turns=2"]}


@pytest.mark.parametrize(
    "override", [f"{g}={o}" for g in GROUPS for o in _options(g)], ids=lambda s: s
)
def test_group_option_composes_and_validates(compose_cfg, override):
    group, option = override.split("=")
    cfg = load_config(compose_cfg([override, *NEEDS.get(override, [])]))
    written = yaml.safe_load((CONF / group / f"{option}.yaml").read_text()) or {}
    typed = getattr(cfg, group)
    for key, value in written.items():  # the option's own scalar values reach the typed config
        if isinstance(value, (str, int, float, bool)) and not str(value).startswith("${"):
            got = getattr(typed, key)
            assert getattr(got, "value", got) == value, (override, key)


@pytest.mark.parametrize("experiment", _options("experiment"))
def test_experiment_preset_composes(compose_cfg, experiment):
    cfg = load_config(compose_cfg([f"experiment={experiment}"]))
    assert cfg.name == experiment


def test_demo_compares_four_methods_on_one_task(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=demo"]))
    assert list(cfg.methods()) == ["reference", "uniform_sft", "rft", "drift_iw"]
    assert cfg.methods()["drift_iw"].beta == 0.1
    assert not cfg.methods()["reference"].train


@pytest.mark.parametrize(
    ("overrides", "instead"),
    [
        (["experiment=demo", "method.beta=0.5"], "write compare.drift_iw.beta=0.5 instead"),
        (["experiment=demo", "method=rft"], "rft is among them"),
        (["experiment=demo", "method=grpo"], "+method@compare.grpo=grpo"),
        (
            ["experiment=compare_cost", "method.rounds=3"],
            "write compare.drift_iw.rounds=3 compare.drift_iw_k3.rounds=3 instead",
        ),
    ],
)
def test_overrides_a_comparison_would_not_use_are_refused(compose_cfg, overrides, instead):
    """A comparison trains its own compare.* copies of the methods: the method group is unused."""
    with pytest.raises(ConfigError, match=re.escape(instead)):
        load_config(compose_cfg(overrides))


def test_overrides_that_a_run_uses_still_pass(compose_cfg):
    demo = load_config(compose_cfg(["experiment=demo", "compare.drift_iw.beta=0.5"]))
    assert demo.methods()["drift_iw"].beta == 0.5
    added = load_config(compose_cfg(["experiment=demo", "+method@compare.grpo=grpo"]))
    assert list(added.methods())[-1] == "grpo"
    # Presets of one method per run (multirun jobs, Optuna trials) use the method group.
    job = load_config(compose_cfg(["experiment=compare_iw", "method=rft", "method.loss_turns=all"]))
    assert job.methods() == {"rft": job.method} and job.method.loss_turns == "all"
    trial = load_config(compose_cfg(["hparams_search=drift_iw_optuna", "method.beta=0.3"]))
    assert trial.methods()["drift_iw"].beta == 0.3
    paper = load_config(compose_cfg(["experiment=drift_iw_paper", "method.beta=0.2"]))
    assert paper.methods()["drift_iw"].beta == 0.2


def test_single_method_run_uses_method_group(compose_cfg):
    cfg = load_config(compose_cfg(["method=drift_iw", "method.beta=0.05"]))
    assert cfg.methods() == {"drift_iw": cfg.method}
    assert cfg.method.beta == 0.05
    assert cfg.name == "drift_iw"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("method.beta=0", "method.beta"),
        ("method.beta=-1", "method.beta"),
        ("trainer.lr=fast", "trainer.lr"),
        ("rollout.num_samples=0", "rollout.num_samples"),
        ("task.num_train=-5", "task.num_train"),
        ("+method.temperature=2", "method.temperature"),
        ("trainer.effective_batch_size=100", "trainer.effective_batch_size"),
        ("reward.verifier=fuzzy", "reward.verifier"),
        ("rollout.engine=scripted", "rollout.engine"),  # the test fake is not a run option
    ],
)
def test_bad_values_name_their_key(compose_cfg, override, key):
    """A value of the wrong type fails as Hydra merges it onto the schema (drift.config's
    dataclasses), a value out of range in the typed check: either way the key is named."""
    with refused(re.escape(key)):
        load_config(compose_cfg([override]))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["name=../../../x"], "name"),
        (["name=a/b"], "name"),
        (["name=.."], "name"),
        (["name="], "name"),
        (["method.name=../../../x"], "method.name"),
        (["experiment=demo", "compare.rft.name=../x"], "method.name"),
    ],
)
def test_names_that_are_not_one_path_component_are_refused(compose_cfg, overrides, key):
    with pytest.raises(ConfigError, match="^" + re.escape(f"{key} must be a name")):
        load_config(compose_cfg(overrides))


def test_compare_keys_that_are_not_one_path_component_are_refused(compose_cfg):
    raw = compose_cfg(["experiment=demo"])
    with open_dict(raw):
        raw.compare["../../x"] = raw.compare.pop("rft")
    with pytest.raises(ConfigError, match="^" + re.escape("compare.../../x must be a name")):
        load_config(raw)


def test_paper_preset_pins_the_paper_setting(compose_cfg):
    cfg = load_config(compose_cfg(["experiment=drift_iw_paper"]))
    assert cfg.model.name_or_path == "Qwen/Qwen2.5-3B-Instruct"
    assert cfg.model.trust_remote_code is False
    assert (cfg.rollout.num_samples, cfg.rollout.temperature, cfg.task.max_turns) == (16, 1.0, 5)
    assert (cfg.reward.gamma, cfg.method.beta) == (0.9, 0.1)
    assert (cfg.trainer.lr, cfg.trainer.warmup_ratio, cfg.trainer.weight_decay) == (5e-6, 0.1, 0.1)
    assert cfg.trainer.effective_batch_size == 128 and cfg.trainer.max_epochs == 1
    assert cfg.trainer.precision == "bf16-mixed"
    assert cfg.task.limit == 1800
    # their --disable_shuffle: whole prompt groups, 128 / 16 = 8 per optimiser step
    assert cfg.method.batch_order == BatchOrder.prompt_groups
    # their 1,800 prompts of a seed-42 shuffle; left truncation to 8192 + 512 tokens
    assert (cfg.task.sample_seed, cfg.trainer.truncation) == (42, Truncation.left)
    assert cfg.trainer.max_length == 8704


def test_prompt_groups_need_whole_groups_per_step(compose_cfg):
    demo = load_config(compose_cfg(["experiment=demo"]))
    assert demo.compare["drift_iw"].batch_order == BatchOrder.shuffle
    with pytest.raises(ConfigError, match=re.escape("multiple of rollout.num_samples")):
        load_config(
            compose_cfg(
                ["method=drift_iw", "method.batch_order=prompt_groups", "rollout.num_samples=12"]
            )
        )
    with pytest.raises(ConfigError, match=r"rft: .*groups are not whole"):  # it drops episodes
        load_config(compose_cfg(["method=rft", "method.batch_order=prompt_groups"]))


def test_debug_fast_turns_logging_off_unless_the_command_line_names_a_logger(compose_cfg):
    assert load_config(compose_cfg(["debug=fast"])).logger.name == "none"
    assert load_config(compose_cfg(["debug=fast", "logger=wandb"])).logger.name == "wandb"
    assert load_config(compose_cfg(["logger=wandb", "debug=fast"])).logger.name == "wandb"
