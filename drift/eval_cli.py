"""``drift eval policy=DIR [overrides]``: the command line of evaluating a saved policy.

``policy=DIR`` is checked before Hydra composes anything (no torch import: a wrong path fails in
a fraction of a second), then passed on as ``+policy=DIR`` so that the run's ``.hydra/`` files
record it; :func:`pop_policy` takes it out of the composed config before the typed check. The
rest is an ordinary drift command line: ``task=``, ``env.*``, ``eval.*``, ``prompt.*``,
``reward=``, ``rollout=`` choose how the policy is evaluated, as they do after training.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from drift.errors import ConfigError

log = logging.getLogger("drift")

KEY = "policy"
MODEL_FILES = ("config.json", "adapter_config.json")
"""A saved model (transformers) or a LoRA adapter (PEFT) has one of these."""
USAGE = "usage: drift eval policy=DIR [overrides] (DIR: a saved model, e.g. <run>/<method>/policy)"
COMPARED = ("task", "env", "prompt", "reward", "eval")
"""The config sections that say how a policy is evaluated, compared with the training run's."""


def check_policy_dir(value: str) -> Path:
    """The absolute path of the saved policy ``value``; ConfigError naming it when it is not a
    directory holding a model or an adapter."""
    path = Path(value).expanduser().absolute()
    if not path.exists():
        raise ConfigError(f"{KEY}={value}: {path} does not exist")
    if not path.is_dir():
        raise ConfigError(f"{KEY}={value}: {path} is not a directory")
    if not any((path / name).is_file() for name in MODEL_FILES):
        hint = f"; did you mean {path / KEY}?" if (path / KEY).is_dir() else ""
        raise ConfigError(
            f"{KEY}={value}: {path} holds no saved model (no {' or '.join(MODEL_FILES)}){hint}"
        )
    _check_adapter_base(value, path / MODEL_FILES[1])
    return path.resolve()


def _check_adapter_base(value: str, adapter_config: Path) -> None:
    """ConfigError when an adapter's base model is an absolute path that is gone (a hub name or
    a relative path is left to the loader)."""
    if not adapter_config.is_file():
        return
    try:
        base = json.loads(adapter_config.read_text()).get("base_model_name_or_path")
    except (json.JSONDecodeError, AttributeError):
        raise ConfigError(f"{KEY}={value}: {adapter_config} is not a JSON object") from None
    if isinstance(base, str) and Path(base).is_absolute() and not Path(base).exists():
        raise ConfigError(f"{KEY}={value}: the adapter's base model {base} does not exist")


def eval_args(args: list[str]) -> list[str]:
    """The Hydra command line of ``drift eval ARGS``: ``policy=DIR`` checked
    (:func:`check_policy_dir`) and turned into ``+policy='<absolute DIR>'``; ``name=eval``
    unless ARGS name the run."""
    values = [a.partition("=")[2] for a in args if a.startswith(f"{KEY}=")]
    if len(values) != 1:
        raise ConfigError(f"{USAGE}; got {KEY}= {len(values)} times")
    policy = check_policy_dir(values[0])
    rest = [a for a in args if not a.startswith(f"{KEY}=")]
    named = any(a.lstrip("+").startswith("name=") for a in rest)
    return [*rest, f"+{KEY}='{policy}'", *([] if named else ["name=eval"])]


def pop_policy(cfg: DictConfig) -> Path | None:
    """Remove ``policy`` from a composed config and return it (None: not ``drift eval``)."""
    if KEY not in cfg:
        return None
    with open_dict(cfg):
        return Path(str(cfg.pop(KEY)))


def _flat(node: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix: node}
    return {k: v for key, sub in node.items() for k, v in _flat(sub, f"{prefix}.{key}").items()}


def training_run_differences(policy: Path, cfg: DictConfig) -> tuple[Path, list[str]] | None:
    """The run directory that saved ``policy`` (``<run>/<method>[/roundK]/policy``, found by its
    ``.hydra/config.yaml``) and the keys of :data:`COMPARED` whose values differ there from
    ``cfg``'s, as ``key=<here> (run: <there>)``; None when no such run is found or its config
    does not resolve."""
    run = next((p for p in policy.parents[:3] if (p / ".hydra" / "config.yaml").is_file()), None)
    if run is None:
        return None
    try:
        saved = OmegaConf.load(run / ".hydra" / "config.yaml")
        theirs = {s: OmegaConf.to_container(saved[s], resolve=True) for s in COMPARED if s in saved}
        ours = {s: OmegaConf.to_container(cfg[s], resolve=True) for s in COMPARED}
    except OmegaConfBaseException:
        return None
    there = {k: v for s, node in theirs.items() for k, v in _flat(node, s).items()}
    here = {k: v for s, node in ours.items() for k, v in _flat(node, s).items()}
    differ = sorted(k for k in there.keys() & here.keys() if there[k] != here[k])
    return run, [f"{k}={here[k]} (run: {there[k]})" for k in differ]


def warn_if_trained_otherwise(policy: Path, cfg: DictConfig) -> None:
    """Log a warning when the run that saved ``policy`` evaluated under other settings."""
    found = training_run_differences(policy, cfg)
    if found is not None and found[1]:
        run, keys = found
        log.warning(
            "this evaluation differs from the run that saved the policy (%s) at %s; to evaluate "
            "as it did, pass its overrides (%s)",
            run,
            ", ".join(keys),
            run / ".hydra" / "overrides.yaml",
        )
