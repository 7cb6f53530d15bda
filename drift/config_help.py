"""``drift --help``: the config groups with their options, then every key with its type, default
and help text, read from the dataclasses of :mod:`drift.config` (the one place they are written).
"""

from __future__ import annotations

import dataclasses
import enum
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from drift.config import DriftConfig

USAGE = """\
drift [KEY=VALUE ...] [GROUP=OPTION ...]   one run (no experiment, method or search: the demo)
drift -m KEY=V1,V2 ...                     a Hydra multirun
drift report DIR | drift bench NAME | drift eval policy=DIR [overrides]
drift --help [SECTION ...]                 this text, the keys limited to SECTION (e.g. trainer)
drift --hydra-help                         Hydra's own flags (--cfg job prints the composed config)
"""


def group_options(conf_dir: Path) -> dict[str, list[str]]:
    """Each config group under ``conf_dir`` with its options, the default (as
    ``conf/config.yaml`` chooses it) marked ``*``."""
    entries = yaml.safe_load((conf_dir / "config.yaml").read_text())["defaults"]
    chosen = {k: v for e in entries if isinstance(e, dict) for k, v in e.items()}
    groups = {}
    for group in sorted(p for p in conf_dir.iterdir() if p.is_dir() and p.name != "hydra"):
        names = sorted(p.stem for p in group.glob("*.yaml"))
        groups[group.name] = [f"{n}*" if chosen.get(group.name) == n else n for n in names]
    return groups


def _shown(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if dataclasses.is_dataclass(value):
        return "{...}"
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)


_CONFIG_MODULE = re.compile(r"\bdrift\.config\.\w+\.(?=[A-Z])")
"""A submodule of :mod:`drift.config` before a class name: shown as ``drift.config.``, the path
the class is imported from."""


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return _CONFIG_MODULE.sub("drift.config.", str(tp).replace("typing.", ""))


def key_lines(cls: type, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(key, text) for every field of ``cls``, nested ones too: ``key: type = default`` and the
    help text below it; a nested section gets its help on its own line."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key, tp, text = f"{prefix}{f.name}", hints[f.name], f.metadata.get("help", "")
        nested = [a for a in typing.get_args(tp) or (tp,) if dataclasses.is_dataclass(a)]
        if nested and typing.get_origin(tp) is not dict:
            yield key, f"{key}: {text}"
            yield from key_lines(nested[0], f"{key}.")
            continue
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        yield key, f"{key}: {_type_name(tp)} = {_shown(default)}\n      {text}"


def render(conf_dir: Path, sections: list[str]) -> str:
    """The whole ``drift --help`` text; ``sections`` (top-level keys) limit the key list."""
    lines = [USAGE, "Config groups (GROUP=OPTION; * the default):"]
    lines += [f"  {g}: {', '.join(opts)}" for g, opts in group_options(conf_dir).items()]
    lines += ["", "Keys (KEY: type = default, then its help; an option's file may set others):"]
    for key, text in key_lines(DriftConfig):
        if not sections or key.split(".", 1)[0] in sections:
            lines.append(f"  {text}")
    return "\n".join(lines)
