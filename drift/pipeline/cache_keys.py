"""What shapes each cached artifact: the config its key hashes, and that config kept with it.

A cache entry's key hashes the settings that change its content and nothing else, so that a run
that only evaluates on more test problems, batches differently or runs on another device reuses
the reference policy and the rollouts. Settings are left out by name (the other splits' in
:func:`task_key`, :data:`ROLLOUT_RUNTIME`): a setting added later is keyed until it is listed
here. With each entry (:func:`config_path`) a JSON file holds the keyed config, the key scheme
and drift's version and commit, as kronfluence writes metadata with its factors.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
from pathlib import Path
from typing import Any

from drift import __version__
from drift.config import DriftConfig, PromptFormat, Protocol, RewardConfig, TaskConfig
from drift.plugins import source_hash
from drift.utils.hashing import config_hash
from drift.utils.io import write_json

CACHE_KEY_SCHEME = "cache-keys-v1"
"""Version of what the keys below hash; every key holds it, so changing it rebuilds every entry
(v1: keys leave out the other splits' sizes and the engine's runtime settings and hold the
source of plug-ins)."""

SPLITS = ("train", "val", "test")

ROLLOUT_RUNTIME = frozenset(
    {
        "batch_size",
        "device",
        "tensor_parallel_size",
        "data_parallel_size",
        "gpu_memory_utilization",
        "enforce_eager",
        "cpu_kvcache_space_gb",
        "start_timeout_s",
    }
)
"""``rollout`` settings that say where and how fast episodes are drawn, not which: left out of
episode keys."""


def cache_key(config: dict[str, Any]) -> str:
    """The key of an entry built from ``config`` (the scheme included)."""
    return config_hash(CACHE_KEY_SCHEME, config)


def task_key(task: TaskConfig, split: str | None) -> dict[str, Any]:
    """``task`` as it shapes the problems of ``split`` and their episodes: without the other
    splits' sizes (``num_test``...), files and dataset split names (without every split's, for
    ``None``: problems the caller keys by their ids)."""
    data = dataclasses.asdict(task)
    for other in SPLITS:
        if other != split:
            del data[f"num_{other}"]
            data["files"].pop(other, None)
            data["splits"].pop(other, None)
    return data


def plugin_sources(reward: RewardConfig, engine: str) -> dict[str, str]:
    """The source hash of each plug-in (``reward.verifier``, ``rollout.engine``) given as a
    dotted path, by key: editing a plug-in's module changes the keys of what it drew."""
    values = {"reward.verifier": reward.verifier, "rollout.engine": engine}
    hashes = {key: source_hash(value) for key, value in values.items()}
    return {key: digest for key, digest in hashes.items() if digest is not None}


def policy_key(cfg: DriftConfig, policy: str) -> str:
    """``policy`` as part of a cache key: a policy in the cache by its name there (which holds
    the key it was built from), so that moving the cache keeps the key; any other (a Hub name,
    a model directory of the user's) as given."""
    cache = Path(cfg.paths.cache_dir).resolve()
    path = Path(policy).resolve()
    if path.is_relative_to(cache) and path.exists():
        return path.relative_to(cache).as_posix()
    return policy


def episodes_config(cfg: DriftConfig, policy: str, split: str | None) -> dict[str, Any]:
    """What shapes episodes drawn by ``policy`` on ``split``'s problems: the problems, the
    sampling, the reward (with plug-in sources), the protocol, the prompt format and the seed.
    ``env`` only under the intrinsic protocol and ``prompt`` only under a DRIFT prompt format,
    where they are used."""
    rollout = {k: v for k, v in dataclasses.asdict(cfg.rollout).items() if k not in ROLLOUT_RUNTIME}
    config: dict[str, Any] = {
        "policy": policy_key(cfg, policy),
        "task": task_key(cfg.task, split),
        "rollout": rollout,
        "reward": dataclasses.asdict(cfg.reward),
        "plugins": plugin_sources(cfg.reward, cfg.rollout.engine),
        "seed": cfg.seed,
    }
    if cfg.env.protocol != Protocol.oracle:
        config["env"] = dataclasses.asdict(cfg.env)
    if cfg.rollout.prompt_format != PromptFormat.plain:
        config["prompt"] = dataclasses.asdict(cfg.prompt)
    return config


@functools.cache
def drift_commit() -> str | None:
    """The git commit drift runs from (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


ENTRY_CONFIG = "cache-config.json"
"""The config's name inside a directory entry (a policy): beside its files, not beside the
directory, so that ``reference-*`` still lists policies only."""


def work_dir(entry: Path, cfg: DriftConfig) -> Path:
    """Scratch space beside the cache entry ``entry`` for the fits that build it (checkpoints,
    logs, staged files), named by this run's directory: two runs that build the same entry at
    once never share it, while a DDP job's ranks, which share the run directory, do."""
    run = config_hash(str(Path(cfg.paths.output_dir).resolve()))[:8]
    return entry.with_name(f"{entry.name}.work-{run}")


def config_path(entry: Path) -> Path:
    """Where the config of the cache entry ``entry`` is written: ``<entry>/cache-config.json``
    for a directory, ``<entry less its suffix>.config.json`` for a file."""
    return entry / ENTRY_CONFIG if entry.is_dir() else entry.with_suffix(".config.json")


def write_entry_config(entry: Path, config: dict[str, Any]) -> None:
    """Write the config that built ``entry`` beside it, with the key scheme and drift's
    version and commit."""
    write_json(
        config_path(entry),
        {
            "key": cache_key(config),
            "key_scheme": CACHE_KEY_SCHEME,
            "drift_version": __version__,
            "drift_commit": drift_commit(),
            "config": json.loads(json.dumps(config, default=str)),
        },
    )
