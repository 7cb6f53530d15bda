"""Expecting a config to be refused, wherever the refusal happens.

A value of the wrong type or an unknown choice fails as Hydra merges it onto the schema
(``drift.config``'s dataclasses, stored in Hydra's ConfigStore): a ``ConfigCompositionException``
whose cause names the key. A value out of range fails in drift's typed check: a ``ConfigError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hydra.errors import ConfigCompositionException

from drift.config import ConfigError


@contextmanager
def refused(match: str) -> Iterator[None]:
    """Expect the block to refuse its config with ``match`` (a regex) in the message or its
    cause."""
    with pytest.raises((ConfigError, ConfigCompositionException)) as err:
        yield
    message = f"{err.value} {err.value.__cause__}"
    assert re.search(match, message), message
