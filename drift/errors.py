"""Errors that tell the user which config key or which file, line and field is wrong."""


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
