"""Stable short hashes of configs, used to key cached artifacts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


def config_hash(*parts: Any, length: int = 12) -> str:
    """Hash dataclasses, dicts and scalars into a short hex key (order of dict keys ignored)."""
    payload = json.dumps([_plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj
