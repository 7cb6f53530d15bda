"""User code named in the config by a dotted path, imported and checked when the config loads.

``reward.verifier``, ``method.weighting`` and ``rollout.engine`` take a built-in name (an enum
member) or the path of an object of the user's: ``pkg.mod:name`` (``name`` may be dotted,
``pkg.mod:Class.attr``) or ``pkg.mod.name``. Modules are imported from ``sys.path`` and, after
it, the working directory, as ``python -m`` does (README, "Plug-ins"). A path that cannot be
imported, or an object that breaks the key's contract, is a :class:`ConfigError` naming the key
and the path.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from drift.errors import ConfigError

_NAME = r"[A-Za-z_]\w*"
_PATH = re.compile(rf"{_NAME}(?:\.{_NAME})*(?::{_NAME}(?:\.{_NAME})*)?")


def is_dotted_path(value: str) -> bool:
    """Whether ``value`` is written as a path (``a.b:c`` or ``a.b``) rather than a bare name."""
    return bool(_PATH.fullmatch(value)) and ("." in value or ":" in value)


def split_path(path: str) -> tuple[str, list[str]]:
    """``pkg.mod:a.b`` -> (``pkg.mod``, [a, b]); ``pkg.mod.a`` -> (``pkg.mod``, [a])."""
    module, sep, attrs = path.partition(":")
    if not sep:
        module, _, attrs = path.rpartition(".")
    return module, attrs.split(".")


def locate(key: str, path: str) -> Any:
    """The object at ``path``; a :class:`ConfigError` naming ``key`` and ``path`` (and the
    module, when it fails to import) if there is none."""
    if not is_dotted_path(path):
        raise ConfigError(f"{key}={path}: not a dotted path (pkg.mod:name or pkg.mod.name)")
    module_name, attrs = split_path(path)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)  # after installed packages, which keep precedence
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as err:  # a missing module or an error inside the user's module
        raise ConfigError(
            f"{key}={path}: cannot import module '{module_name}': {type(err).__name__}: {err}"
        ) from None
    for i, attr in enumerate(attrs):
        if not hasattr(obj, attr):
            owner = ".".join([module_name, *attrs[:i]])
            raise ConfigError(f"{key}={path}: '{owner}' has no attribute '{attr}'")
        obj = getattr(obj, attr)
    return obj


def choice_or_object(key: str, value: str, choices: type[Enum]) -> Any | None:
    """None when ``value`` is one of ``choices`` (a built-in), else the object at the dotted
    path ``value``; a :class:`ConfigError` listing the choices for any other string."""
    names = sorted({c.value for c in choices})
    if value in names:
        return None
    if not is_dotted_path(value):
        raise ConfigError(
            f"{key} must be one of {', '.join(names)} or a dotted path to your own "
            f"(pkg.mod:name or pkg.mod.name), got {value!r}"
        )
    return locate(key, value)


def require_signature(key: str, path: str, obj: Any, params: Sequence[str], what: str) -> None:
    """A :class:`ConfigError` naming ``key`` and ``path`` unless ``obj`` is callable with
    ``params`` as positional arguments (an object whose signature Python cannot read passes)."""
    if not callable(obj):
        raise ConfigError(f"{key}={path}: {what} must be callable, got {type(obj).__name__}")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # some builtins have no signature: nothing to check
        return
    try:
        signature.bind(*params)
    except TypeError as err:
        wanted = f"({', '.join(params)})"
        raise ConfigError(
            f"{key}={path}: {what} must take {wanted}, but its signature is {signature} ({err})"
        ) from None


def as_function(key: str, path: str, obj: Any, params: Sequence[str], what: str) -> Any:
    """``obj`` (found at ``path``) as a function of ``params``: ``obj`` itself, or, for a class,
    its instance made without arguments; a :class:`ConfigError` naming ``key`` and ``path``
    when that cannot be called with ``params``."""
    if isinstance(obj, type):
        require_signature(key, path, obj, (), f"{what} class (made without arguments)")
        obj = obj()
    require_signature(key, path, obj, params, what)
    return obj


def source_hash(value: str) -> str | None:
    """SHA-256 (16 hex) of the source file of the module behind the dotted path ``value``, so
    that a cache keyed on it changes when the user edits the plug-in; None for a built-in name
    and for a module without a source file (a compiled extension)."""
    if not is_dotted_path(value):
        return None
    module_name, _ = split_path(value)
    locate(value, value)  # imports the module (and checks the path) as the config did
    source = inspect.getsourcefile(sys.modules[module_name])
    if source is None:
        return None
    return hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16]
