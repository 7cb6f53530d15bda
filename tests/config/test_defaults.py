"""One source of defaults: the dataclasses of drift.config hold every default and its help text;
the YAML under conf/ holds only what differs from them."""

from __future__ import annotations

import dataclasses
import enum
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from drift.config import DriftConfig

CONF = Path(__file__).resolve().parents[2] / "conf"
# Groups whose dataclass defaults are the default option's settings; `method`'s dataclass is the
# base of every method, none of which is its default (each names itself, for one).
DEFAULT_IS_THE_DATACLASS = ("task", "model", "rollout", "reward", "env", "trainer", "logger")
DEFAULT_IS_THE_DATACLASS += ("paths", "attribution", "study")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _dataclasses_in(tp: Any) -> list[type]:
    """The dataclasses a field's type holds: itself, an Optional's, a dict's or a list's values."""
    args = typing.get_args(tp) or (tp,)
    found = [a for a in args if dataclasses.is_dataclass(a)]
    for a in args:
        found += [b for b in typing.get_args(a) if dataclasses.is_dataclass(b)]
    return found


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _plain(value: Any) -> Any:
    """An enum member as YAML writes it."""
    return value.value if isinstance(value, enum.Enum) else value


def _repeats(cls: type, node: dict, prefix: str) -> list[str]:
    """Keys of ``node`` (a YAML mapping merged onto ``cls``) whose value is the default."""
    found = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name not in node:
            continue
        value, nested = node[f.name], _dataclasses_in(hints[f.name])
        if isinstance(value, dict) and nested and typing.get_origin(hints[f.name]) is not dict:
            found += _repeats(nested[0], value, f"{prefix}{f.name}.")
        elif isinstance(value, str) and "${" in value:
            continue  # an interpolation says what a value follows, not a default
        elif not isinstance(value, dict) or not nested:
            default = _default(f)
            default = [_plain(v) for v in default] if isinstance(default, list) else _plain(default)
            if value == default and isinstance(value, bool) == isinstance(default, bool):
                found.append(f"{prefix}{f.name}: {value!r}")
    return found


def _group_type(group: str) -> type | None:
    fields = {f.name: f for f in dataclasses.fields(DriftConfig)}
    if group not in fields:
        return None
    (cls,) = _dataclasses_in(_hints(DriftConfig)[group])
    return cls


def _group_files() -> list[Path]:
    groups = sorted(p for p in CONF.glob("*/*.yaml") if _group_type(p.parent.name) is not None)
    return [CONF / "config.yaml", *groups]


def _content(path: Path) -> dict:
    data = yaml.safe_load(path.read_text()) or {}
    data.pop("defaults", None)
    return data


@pytest.mark.parametrize("path", _group_files(), ids=lambda p: str(p.relative_to(CONF)))
def test_no_yaml_repeats_a_dataclass_default(path):
    if path.name == "config.yaml" and path.parent == CONF:
        cls, prefix = DriftConfig, ""
    else:
        cls, prefix = _group_type(path.parent.name), f"{path.parent.name}."
    assert _repeats(cls, _content(path), prefix) == []


def _default_options() -> dict[str, str]:
    entries = yaml.safe_load((CONF / "config.yaml").read_text())["defaults"]
    return {k: v for e in entries if isinstance(e, dict) for k, v in e.items()}


@pytest.mark.parametrize("group", DEFAULT_IS_THE_DATACLASS)
def test_a_default_option_sets_nothing_the_dataclass_could(group):
    """The option that conf/config.yaml chooses is the dataclass's defaults: a value written there
    would be a second default, which could disagree with the first."""
    path = CONF / group / f"{_default_options()[group]}.yaml"

    def written(node: Any, key: str) -> list[str]:
        if isinstance(node, dict):
            return [w for k, v in node.items() for w in written(v, f"{key}.{k}")]
        return [] if isinstance(node, str) and "${" in node else [f"{key}: {node!r}"]

    assert written(_content(path), group) == []


def _fields(cls: type, prefix: str, seen: set[type]) -> list[tuple[str, dataclasses.Field]]:
    seen.add(cls)
    found = []
    for f in dataclasses.fields(cls):
        found.append((f"{prefix}{f.name}", f))
        for nested in _dataclasses_in(_hints(cls)[f.name]):
            if nested not in seen:
                found += _fields(nested, f"{prefix}{f.name}.", seen)
    return found


def test_every_config_field_has_help_text():
    missing = [key for key, f in _fields(DriftConfig, "", set()) if not f.metadata.get("help")]
    assert missing == []
