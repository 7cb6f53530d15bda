"""The attribution warm-up: snapshots of whole parameters and optimiser states, and its cache."""

import json
import logging
import shutil
from types import SimpleNamespace

import pytest
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy

from drift.config import ConfigError, TrainerConfig, load_config
from drift.pipeline import attribution_warmup
from drift.pipeline.attribution_pool import study_pool
from drift.pipeline.attribution_warmup import (
    AdamSnapshots,
    ensure_warmup,
    load_state,
    warmup_config,
    warmup_key,
)
from drift.pipeline.cache_keys import config_path
from drift.utils.manifest import MANIFEST, check_manifest


def test_snapshots_refuse_a_sharding_strategy(tmp_path):
    snapshots = AdamSnapshots([1], tmp_path)
    module = SimpleNamespace(config=TrainerConfig(strategy="fsdp"))
    with pytest.raises(ConfigError, match=r"trainer.strategy=fsdp.*trainer=ddp"):
        snapshots.on_fit_start(SimpleNamespace(strategy=FSDPStrategy()), module)
    snapshots.on_fit_start(SimpleNamespace(strategy=DDPStrategy()), module)  # replicated: fine


STUDY = [
    "experiment=attribution_demo",
    "debug=attribution_fast",
    "study.pool_size=16",
    "model.warmup.steps=2",
    "study.warmup_steps=2",
    "study.checkpoints=2",
    "trainer.micro_batch_size=8",
    "trainer.effective_batch_size=8",
]


@pytest.mark.parametrize(
    ("damage", "mismatch"),
    [
        (lambda w: _cut(w / "ckpt-00" / "state.pt"), "ckpt-00/state.pt has 100 bytes"),
        (lambda w: (w / MANIFEST).unlink(), "no manifest"),
    ],
)
def test_a_broken_cached_warmup_is_named_and_redone(
    compose_cfg, monkeypatch, caplog, damage, mismatch
):
    cfg = load_config(compose_cfg(STUDY))
    pool, pool_key = study_pool(cfg)
    fits = []
    real_fit = attribution_warmup.train_policy
    monkeypatch.setattr(
        attribution_warmup, "train_policy", lambda *a, **k: fits.append(1) or real_fit(*a, **k)
    )
    first = ensure_warmup(cfg, pool, pool_key)
    out = first.final.path.parent
    assert ensure_warmup(cfg, pool, pool_key).key == first.key and len(fits) == 1  # reused
    assert check_manifest(out, content=True) is None
    damage(out)
    caplog.set_level(logging.WARNING)
    again = ensure_warmup(cfg, pool, pool_key)
    assert len(fits) == 2  # redone, not reused
    (warning,) = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert f"attribution warm-up {out} is broken: {mismatch}" in warning
    assert check_manifest(out, content=True) is None
    assert [c.step for c in again.checkpoints] == [1, 2]
    assert load_state(again.checkpoints[0])["params"]  # loads whole again


def test_a_rebuilt_warmup_does_not_write_through_a_link_out_of_the_cache(
    compose_cfg, tmp_path_factory
):
    cfg = load_config(compose_cfg(STUDY))
    pool, pool_key = study_pool(cfg)
    out = ensure_warmup(cfg, pool, pool_key).final.path.parent
    outside = tmp_path_factory.mktemp("outside") / "ckpt-00"
    shutil.move(out / "ckpt-00", outside)
    (outside / "state.pt").write_bytes(b"planted")
    (out / "ckpt-00").symlink_to(outside, target_is_directory=True)
    again = ensure_warmup(cfg, pool, pool_key)
    assert (outside / "state.pt").read_bytes() == b"planted"  # nothing written through the link
    assert not (out / "ckpt-00").is_symlink()
    assert check_manifest(out, content=True) is None
    assert load_state(again.checkpoints[0])["params"]


def test_two_runs_building_one_warmup_at_once_stage_it_apart_and_keep_the_first(
    compose_cfg, tmp_path, monkeypatch
):
    """Two runs sharing a cache (different run directories) build the same warm-up: each fits
    in its own work directory, and the one that finishes second keeps the first one's entry.
    (Both used one `.work` directory, and one run's fit lost its checkpoints to the other.)"""
    runs = [load_config(compose_cfg(STUDY)) for _ in "ab"]
    for run, name in zip(runs, "ab", strict=True):
        run.paths.output_dir = str(tmp_path / name)
    pool, pool_key = study_pool(runs[0])
    fit_dirs = []
    real_fit = attribution_warmup.train_policy

    def fit(*args, **kwargs):
        fit_dirs.append(kwargs["output_dir"])
        if len(fit_dirs) == 1:  # run a is still fitting when run b builds the same entry
            ensure_warmup(runs[1], pool, pool_key)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(attribution_warmup, "train_policy", fit)
    first = ensure_warmup(runs[0], pool, pool_key)
    assert len(fit_dirs) == 2 and fit_dirs[0] != fit_dirs[1]
    out = first.final.path.parent
    assert check_manifest(out, content=True) is None
    assert load_state(first.checkpoints[0])["params"]
    assert not list(out.parent.glob("*.work*"))


def _cut(path, keep=100):
    path.write_bytes(path.read_bytes()[:keep])


def test_the_warmup_key_holds_what_the_warmup_computes_and_its_config_lies_beside_it(
    compose_cfg,
):
    cfg = load_config(compose_cfg(STUDY))
    pool, pool_key = study_pool(cfg)

    def key(*overrides: str) -> str:
        return warmup_key(load_config(compose_cfg([*STUDY, *overrides])), pool_key)

    same = ("trainer.micro_batch_size=4", "trainer.max_steps=3", "trainer.log_every_n_steps=1")
    assert all(key(o) == key() for o in same)  # its length is study's; the rest is how it runs
    assert all(key(o) != key() for o in ("trainer.lr=0.5", "study.warmup_steps=3", "seed=1"))
    warmup = ensure_warmup(cfg, pool, pool_key)
    out = warmup.final.path.parent
    assert not list(out.parent.glob("*.work*"))  # the fit's checkpoints are gone
    saved = json.loads(config_path(out).read_text())
    assert saved["key"] == warmup.key and out.name == f"attr-warmup-{warmup.key}"
    assert saved["config"] == json.loads(json.dumps(warmup_config(cfg, pool_key), default=str))
