"""Run directories: one new ``<time>_<name>`` directory per run, never shared, never outside.

Hydra names run directories by a timestamp; at 1-second resolution two runs started in the same
second shared one. :func:`claim_run_dir` stamps to the microsecond and creates the directory
itself (``mkdir`` fails when it exists, so of two runs that compute the same name only one gets
it; the other takes the next suffix). Names are cut to one path component first, so a hostile
``name`` cannot place the directory elsewhere (the config check then refuses that name, and
:func:`discard_unstarted_run_dir` removes the directory).
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf

STAMP = "%Y-%m-%d_%H-%M-%S-%f"
HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+-]")


def path_component(text: str) -> str:
    """``text`` as one path component: path separators and other odd characters become ``_``
    (callers put a prefix before it, so the component is never ``.`` or ``..``)."""
    return _UNSAFE.sub("_", str(text))


def claim_run_dir(parent: str, name: str) -> str:
    """Create and return a new directory ``<parent>/<time>_<name>`` that no other run has."""
    base = Path(parent)
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime(STAMP)
    safe = path_component(name)
    for n in itertools.count():
        path = base / (f"{stamp}_{safe}" if n == 0 else f"{stamp}-{n}_{safe}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return str(path)
    raise AssertionError("unreachable")


def register_resolvers() -> None:
    """``${unique_dir:parent,name}`` (cached, so Hydra's sweep jobs resolve to the same
    directory) and ``${path_component:text}`` for Hydra's directory settings."""
    OmegaConf.register_new_resolver("unique_dir", claim_run_dir, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("path_component", path_component, replace=True)


def discard_unstarted_run_dir(run_dir: Path, job_name: str) -> bool:
    """Remove ``run_dir`` when it holds nothing but what Hydra writes before a run starts (its
    ``.hydra`` configs and the job's log); return whether it was removed."""
    hydra_dir = run_dir / ".hydra"
    log_file = run_dir / f"{job_name}.log"
    if not run_dir.is_dir() or not {p.name for p in run_dir.iterdir()} <= {".hydra", log_file.name}:
        return False
    if hydra_dir.exists() and not {p.name for p in hydra_dir.iterdir()} <= set(HYDRA_FILES):
        return False
    for name in HYDRA_FILES:
        (hydra_dir / name).unlink(missing_ok=True)
    if hydra_dir.exists():
        hydra_dir.rmdir()
    log_file.unlink(missing_ok=True)
    run_dir.rmdir()
    return True
