"""Run directories: one new ``<time>_<name>`` directory per run, never shared, never outside.

Hydra names run directories by a timestamp; at 1-second resolution two runs started in the same
second shared one. :func:`claim_run_dir` stamps to the microsecond and creates the directory
itself (``mkdir`` fails when it exists, so of two runs that compute the same name only one gets
it; the other takes the next suffix). Names are cut to one path component first, so a hostile
``name`` cannot place the directory elsewhere (the config check then refuses that name, and
:func:`discard_unstarted_run_dir` removes the directory).

A multirun's directory is named by :func:`sweep_name` (``<time>_drift_iw`` for
``drift -m method.beta=0.05,0.5``): the name its jobs share, or ``multirun`` when they differ.
"""

from __future__ import annotations

import copy
import itertools
import re
import sys
from datetime import datetime
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict, read_write
from omegaconf.errors import OmegaConfBaseException

STAMP = "%Y-%m-%d_%H-%M-%S-%f"
HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=,+-]")


def path_component(text: str) -> str:
    """``text`` as one path component: path separators and other odd characters become ``_``
    (callers put a prefix before it, so the component is never ``.`` or ``..``)."""
    return _UNSAFE.sub("_", str(text))


def claim_run_dir(parent: str, name: str) -> str:
    """Create and return a new directory ``<parent>/<time>_<name>`` that no other run has.

    A directory that cannot be made (read-only, no space, no permission) ends the process with
    one line naming it: Hydra calls this while it composes, and would bury an exception in its
    own traceback."""
    base = Path(parent)
    stamp = datetime.now().strftime(STAMP)
    safe = path_component(name)
    try:
        base.mkdir(parents=True, exist_ok=True)
        for n in itertools.count():
            path = base / (f"{stamp}_{safe}" if n == 0 else f"{stamp}-{n}_{safe}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return str(path)
    except OSError as err:
        print(f"error: cannot create the run directory: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    raise AssertionError("unreachable")


# Preset groups whose options may set ``name`` themselves.
_NAMING_GROUPS = ("experiment", "hparams_search")
SWEEP_FALLBACK = "multirun"


def _swept_keys(root: DictConfig) -> set[str]:
    """The keys a multirun varies: sweeps on the command line (``method.beta=0.05,0.5``) and the
    sweeper's own ``params`` (a preset's, or Optuna's search space)."""
    lines = [str(x) for x in root.hydra.overrides.task]
    params = OmegaConf.select(root, "hydra.sweeper.params")
    if isinstance(params, DictConfig):
        lines += [f"{k}={v}" for k, v in OmegaConf.to_container(params, resolve=False).items()]
    keys = set()
    parser = OverridesParser.create()
    for line in lines:
        try:
            (override,) = parser.parse_overrides([line])
        except Exception:  # Hydra reports a bad override itself; count it as a sweep here
            keys.add(line.split("=", 1)[0].lstrip("+~"))
            continue
        if override.is_sweep_override():
            keys.add(override.key_or_group)
    return keys


def sweep_name(root: DictConfig) -> str:
    """The name of a multirun's directory: ``name`` as the multirun's config gives it, the name
    every job shares (``drift_iw``, ``compare_iw``, ``drift_iw_optuna``); ``multirun`` when the
    jobs' names differ: a sweep over ``name`` or a preset group, or over a group ``name`` is
    made of (``method=rft,drift_iw`` with the default ``name``)."""
    raw = OmegaConf.to_container(root, resolve=False).get("name")
    swept = _swept_keys(root)
    if swept & {"name", *_NAMING_GROUPS}:
        return SWEEP_FALLBACK
    if isinstance(raw, str) and "${" in raw:
        if any(re.search(rf"(?<!\w){re.escape(k)}\b", raw) for k in swept):
            return SWEEP_FALLBACK
        # Hydra sets its global config (which ``${hydra:...}`` reads) only once a job starts,
        # after the sweep directory exists: read the multirun config's own ``hydra`` node.
        probe = copy.deepcopy(root)
        with read_write(probe), open_dict(probe):
            probe.name = raw.replace("${hydra:", "${hydra.")
        try:
            raw = probe.name
        except OmegaConfBaseException:  # the job's own config check names the problem
            return SWEEP_FALLBACK
    return SWEEP_FALLBACK if raw is None else str(raw)


def sweep_dir(parent: str, *, _root_: DictConfig) -> str:
    """``${sweep_dir:parent}``: a new ``<parent>/<time>_<sweep name>`` directory, made once per
    multirun. It is kept in the config's resolver cache, which Hydra copies into every job's
    config (and a launcher pickles with it), so every job resolves the same directory."""
    cache = OmegaConf.get_cache(_root_)["sweep_dir"]
    if parent not in cache:
        cache[parent] = claim_run_dir(parent, sweep_name(_root_))
    return cache[parent]


def register_resolvers() -> None:
    """``${unique_dir:parent,name}`` (cached, so a run resolves its directory once),
    ``${sweep_dir:parent}`` and ``${path_component:text}`` for Hydra's directory settings."""
    OmegaConf.register_new_resolver("unique_dir", claim_run_dir, use_cache=True, replace=True)
    OmegaConf.register_new_resolver("sweep_dir", sweep_dir, replace=True)
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
