"""Cache keys hold what shapes the artifact and nothing else; each entry's config is beside it."""

import json
import sys
from pathlib import Path

import pytest

from drift import __version__
from drift.config import load_config
from drift.data.sources import load_problems
from drift.pipeline.cache_keys import CACHE_KEY_SCHEME, cache_key, config_path, work_dir
from drift.pipeline.reference import (
    WARMUP_TRAINER_KEYS,
    ensure_reference,
    reference_config,
    reference_key,
)
from drift.pipeline.rollouts import ensure_rollouts, rollout_config, rollout_path

BASE = ["debug=fast", "objective=acc@2"]


def keys(compose_cfg, *overrides: str) -> tuple[str, str]:
    """The reference's key and the name of its rollouts' path under ``overrides``."""
    cfg = load_config(compose_cfg([*BASE, *overrides]))
    reference = Path(cfg.paths.cache_dir) / f"reference-{reference_key(cfg)}"
    return reference_key(cfg), rollout_path(cfg, str(reference)).name


@pytest.mark.parametrize(
    "override",
    [
        "task.num_test=7",
        "task.num_val=3",
        "rollout.batch_size=3",
        "rollout.device=cpu",
        "rollout.start_timeout_s=5",
        "rollout.gpu_memory_utilization=0.5",
        "rollout.tensor_parallel_size=2",
        "eval.batch_size=3",
        "eval.sampled_samples=1",
        "trainer.micro_batch_size=8",
        "trainer.log_every_n_steps=1",
        "trainer.accelerator=gpu",
        "method.beta=0.5",
        "logger=wandb",
    ],
)
def test_settings_that_do_not_shape_the_artifacts_keep_their_keys(compose_cfg, override):
    assert keys(compose_cfg, override) == keys(compose_cfg)


@pytest.mark.parametrize(
    ("override", "reference_too"),
    [
        ("task.seed=5", True),  # the train split
        ("task.num_candidates=5", True),
        ("task.feedback=Wrong.", True),
        ("model.tiny.hidden_size=32", True),
        ("model.warmup.steps=3", True),
        ("trainer.schedule=cosine", True),  # kept by the warm-up's trainer
        ("trainer.truncation=left", True),  # the warm-up's long examples are cut otherwise
        ("seed=1", True),
        ("task.num_train=5", False),
        ("task.max_turns=3", False),
        ("rollout.temperature=0.5", False),
        ("rollout.num_samples=3", False),
        ("rollout.max_new_tokens=5", False),
        ("rollout.chunk_prompts=3", False),  # chunks seed the sampling
        ("rollout.prompt_format=drift_simple", False),
        ("reward.gamma=0.5", False),
        ("reward.score_malformed=true", False),
        ("env.protocol=intrinsic", True),  # the warm-up shows the instruction
    ],
)
def test_settings_that_shape_an_artifact_change_its_key(compose_cfg, override, reference_too):
    reference, rollouts = keys(compose_cfg)
    changed_reference, changed_rollouts = keys(compose_cfg, override)
    assert changed_rollouts != rollouts
    assert (changed_reference != reference) == reference_too


def test_the_reference_keys_every_trainer_setting_the_warm_up_keeps(compose_cfg):
    trainer = reference_config(load_config(compose_cfg(BASE)))["trainer"]  # defaults included
    assert sorted(trainer) == sorted(WARMUP_TRAINER_KEYS)
    assert trainer["truncation"] == "right"


def test_a_new_policy_draws_new_rollouts(compose_cfg):
    cfg = load_config(compose_cfg(BASE))
    assert rollout_path(cfg, "a") != rollout_path(cfg, "b")


def test_editing_a_plugin_changes_the_rollout_key(compose_cfg, tmp_path, monkeypatch):
    module = tmp_path / "my_checks.py"
    module.write_text("def same(prediction, target):\n    return prediction == target\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_checks", raising=False)
    overrides = ["reward.verifier=my_checks:same", "rollout.engine=hf"]
    _, first = keys(compose_cfg, *overrides)
    assert keys(compose_cfg, *overrides)[1] == first  # the same source: the same key
    module.write_text(module.read_text() + "\n# reads answers differently now\n")
    assert keys(compose_cfg, *overrides)[1] != first
    monkeypatch.delitem(sys.modules, "my_checks")


def _entry_config(entry):
    saved = json.loads(config_path(entry).read_text())
    assert saved["key_scheme"] == CACHE_KEY_SCHEME and saved["drift_version"] == __version__
    assert "drift_commit" in saved
    return saved


def test_reference_and_rollouts_write_the_config_that_built_them(compose_cfg):
    overrides = [*BASE, "model.warmup.enabled=false", "num_threads=1", "task.num_train=2"]
    overrides += ["rollout.num_samples=2", "rollout.max_new_tokens=4", "task.max_turns=2"]
    cfg = load_config(compose_cfg(overrides))
    reference = ensure_reference(cfg)
    reference_path = Path(reference)
    saved = _entry_config(reference_path)
    expected = json.loads(json.dumps(reference_config(cfg), default=str))
    assert saved["config"] == expected and saved["config"]["seed"] == cfg.seed
    assert reference_path.name == f"reference-{saved['key']}"

    ensure_rollouts(cfg, reference, load_problems(cfg.task, "train"))
    entry = rollout_path(cfg, reference)
    saved = _entry_config(entry)
    assert entry.name == f"rollouts-{saved['key']}.jsonl"
    assert saved["key"] == cache_key(rollout_config(cfg, reference))
    assert saved["config"]["policy"] == reference_path.name  # by its name in the cache
    assert saved["config"]["task"]["num_train"] == 2 and "num_test" not in saved["config"]["task"]
    assert "batch_size" not in saved["config"]["rollout"]


def test_runs_building_one_entry_at_once_get_their_own_work_directory(compose_cfg, tmp_path):
    """Two runs sharing a cache that warm up the same reference at once must not share the
    fits' scratch space (one run's checkpoints vanished under the other), but a DDP job's ranks,
    which share the run directory, do."""
    entry = tmp_path / "cache" / "reference-abc"
    a, b = (load_config(compose_cfg(BASE)) for _ in "ab")
    a.paths.output_dir, b.paths.output_dir = str(tmp_path / "a"), str(tmp_path / "b")
    assert work_dir(entry, a) != work_dir(entry, b)
    assert work_dir(entry, a) == work_dir(entry, a) and work_dir(entry, a).parent == entry.parent
    assert work_dir(entry, a).name.startswith("reference-abc.work")


def test_a_warm_up_leaves_no_work_directory(compose_cfg):
    overrides = [*BASE, "num_threads=1", "model.warmup.steps=2", "model.warmup.multi_turn_steps=1"]
    overrides += ["model.warmup.batch_size=4", "model.warmup.num_examples=16"]
    cfg = load_config(compose_cfg(overrides))
    reference = Path(ensure_reference(cfg))
    assert reference.is_dir()
    assert not list(reference.parent.glob("*.work*"))
    assert _entry_config(reference)["config"]["model"]["warmup"]["steps"] == 2
