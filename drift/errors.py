"""Errors that tell the user which config key or which file, line and field is wrong."""

import re
from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


class ConfigError(ValueError):
    """A config value is missing, mistyped or out of range; the message names the key."""


class DataError(ValueError):
    """Bad input data; the message names the file, the line and the field."""


def require_positive(key: str, value: float) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``value > 0``."""
    if value <= 0:
        raise ConfigError(f"{key} must be > 0, got {value}")


def require_non_negative(key: str, value: float) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``value >= 0``."""
    if value < 0:
        raise ConfigError(f"{key} must be >= 0, got {value}")


def require_choice(key: str, kind: type[E], value: object) -> E:
    """``value`` as a member of ``kind`` (a member or its value, e.g. a string from code built
    outside OmegaConf); :class:`ConfigError` naming ``key`` and the choices otherwise."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise ConfigError(f"{key} must be one of {choices}, got {value!r}") from None


# Names that become file or directory names: no separator, no leading dot ("." and "..").
_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def require_identifier(key: str, value: str) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``value`` is a name that is safe as one
    path component: letters, digits, ``_``, ``.`` and ``-``, not starting with ``.`` or ``-``,
    at most 100 characters."""
    if not _IDENTIFIER.fullmatch(value):
        raise ConfigError(
            f"{key} must be a name of letters, digits, '_', '.' and '-' (not starting with "
            f"'.' or '-', at most 100 characters), got {value!r}"
        )
