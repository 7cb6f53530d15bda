"""Runs on disk: find every ``results.json`` under a directory and read it into records.

A *run* is a directory holding ``results.json`` (``{"methods": {name: {metric: value}}}``),
optionally Hydra's ``.hydra/config.yaml`` and ``.hydra/overrides.yaml``, and per method
``<method>/metrics.json`` and ``<method>/scores.{parquet,jsonl}``. Each (run, method) pair becomes
one :class:`RunRecord`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import yaml

from drift.utils.io import DataError, read_jsonl, read_text

# Overrides that never tell two configurations apart (first dotted component of the key);
# the ``method`` group choice itself is dropped too (see _config_overrides).
IGNORED_OVERRIDES = frozenset({"seed", "paths", "hydra", "logger"})
SCORE_FILES = ("scores.parquet", "scores.jsonl")
SCORE_COLUMNS = ("score", "grad_norm", "corrupted")


@dataclass(frozen=True)
class RunRecord:
    """One method's metrics from one run; ``overrides`` excludes seed/paths/hydra/logger keys."""

    method: str
    metrics: dict[str, float]
    overrides: tuple[str, ...] = ()
    seed: int | None = None
    run_dir: Path | None = None
    scores_path: Path | None = None


def find_runs(root: str | Path) -> list[Path]:
    """Every directory under ``root`` (itself included) holding ``results.json``, in job order."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a directory")
    return sorted((p.parent for p in root.rglob("results.json")), key=_natural_key)


def load_run(run_dir: str | Path) -> list[RunRecord]:
    """One :class:`RunRecord` per method of the run in ``run_dir``."""
    run_dir = Path(run_dir)
    path = run_dir / "results.json"
    try:
        results = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
    methods = results.get("methods") if isinstance(results, dict) else None
    if not isinstance(methods, dict):
        raise DataError(f"{path}: field 'methods' should be an object of per-method metrics")
    overrides = _read_overrides(run_dir / ".hydra" / "overrides.yaml")
    resolved = _read_config(run_dir / ".hydra" / "config.yaml")
    seed = _read_seed(resolved, overrides)
    config = _config_overrides(overrides)
    records = []
    for name, metrics in methods.items():
        if not isinstance(metrics, dict):
            raise DataError(f"{path}: field 'methods.{name}' should be an object")
        extra = _read_json_object(run_dir / name / "metrics.json")
        merged = {**_numeric(extra), **_numeric(metrics)}
        records.append(
            RunRecord(
                method=name,
                metrics=merged,
                overrides=tuple(sorted((*config, *_method_tags(resolved, name)))),
                seed=seed,
                run_dir=run_dir,
                scores_path=_scores_path(run_dir / name),
            )
        )
    return records


def collect_runs(root: str | Path) -> list[RunRecord]:
    """All (run, method) records under ``root``; DataError when there is none."""
    runs = [record for run_dir in find_runs(root) for record in load_run(run_dir)]
    if not runs:
        raise DataError(f"{root}: no results.json found")
    return runs


def runs_from_results(methods: Mapping[str, Mapping[str, float]]) -> list[RunRecord]:
    """Records for the ``methods`` mapping of one in-memory ``results.json``."""
    return [RunRecord(method=name, metrics=_numeric(m)) for name, m in methods.items()]


def latest_multirun(log_dir: str | Path) -> Path:
    """The newest ``<log_dir>/multiruns/<stamp>_<name>`` directory (stamps sort by time)."""
    base = Path(log_dir) / "multiruns"
    dirs = sorted(p for p in base.glob("*") if p.is_dir()) if base.is_dir() else []
    if not dirs:
        raise DataError(f"{base}: no multirun directory")
    return dirs[-1]


def load_scores(path: str | Path) -> dict[str, np.ndarray]:
    """Columns score, grad_norm (float [N]) and corrupted (bool [N]) of a scores file."""
    path = Path(path)
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        missing = [c for c in SCORE_COLUMNS if c not in table.column_names]
        if missing:
            raise DataError(f"{path}: missing column '{missing[0]}'")
        cols = {c: table.column(c).to_numpy(zero_copy_only=False) for c in SCORE_COLUMNS}
    else:
        kinds = {"score": (int, float), "grad_norm": (int, float), "corrupted": bool}
        records = [rec for _, rec in read_jsonl(path, required=kinds)]
        cols = {c: np.array([rec[c] for rec in records]) for c in SCORE_COLUMNS}
    return {
        "score": cols["score"].astype(np.float64),
        "grad_norm": cols["grad_norm"].astype(np.float64),
        "corrupted": cols["corrupted"].astype(bool),
    }


def _read_overrides(path: Path) -> list[str]:
    if not path.exists():
        return []
    data = yaml.safe_load(read_text(path)) or []
    if not isinstance(data, list) or not all(isinstance(o, str) for o in data):
        raise DataError(f"{path}: expected a list of 'key=value' strings")
    return data


def _read_config(path: Path) -> dict[str, Any]:
    """The run's resolved config (``.hydra/config.yaml``), {} when there is none."""
    config = yaml.safe_load(read_text(path)) if path.exists() else None
    return config if isinstance(config, dict) else {}


def _method_tags(config: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """Labels a method's resolved config needs beside the run's overrides: ``KL 0`` for a GRPO
    method without a KL term (``grpo.beta`` 0, or absent: a run from before the key existed,
    when TRL's default of 0 applied), so that a report never shows it as plain GRPO."""
    compare = config.get("compare")
    method = compare.get(name) if isinstance(compare, dict) else None
    if method is None and isinstance(config.get("method"), dict):
        method = config["method"] if config["method"].get("name") == name else None
    if not isinstance(method, dict) or method.get("family") != "grpo":
        return ()
    grpo = method.get("grpo")
    beta = grpo.get("beta", 0) if isinstance(grpo, dict) else 0
    return ("KL 0",) if not beta else ()


def _read_seed(config: Mapping[str, Any], overrides: Sequence[str]) -> int | None:
    value = config.get("seed")
    if value is None:
        value = next((o.split("=", 1)[1] for o in overrides if o.startswith("seed=")), None)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _config_overrides(overrides: Sequence[str]) -> tuple[str, ...]:
    """Sorted overrides that define the configuration: not seed/paths/hydra/logger, and not
    the ``method`` group choice (the record's method name already tells methods apart)."""
    keys = [o.lstrip("+~").partition("=")[0] for o in overrides]
    return tuple(
        sorted(
            o
            for o, key in zip(overrides, keys, strict=True)
            if key != "method" and key.split(".")[0] not in IGNORED_OVERRIDES
        )
    )


def _scores_path(method_dir: Path) -> Path | None:
    return next((method_dir / f for f in SCORE_FILES if (method_dir / f).exists()), None)


def _read_json_object(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
    return data if isinstance(data, dict) else {}


def _numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite-or-NaN numbers of ``metrics`` as floats (booleans and strings dropped)."""
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _natural_key(value: object) -> tuple[Any, ...]:
    """Sort key where digit runs compare as integers: job directory 2 before job 10."""
    parts = re.split(r"(\d+)", str(value))
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))
