"""Stable short hashes of configs, used to key cached artifacts."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

NEW_KEY = "cache_key_when_set"
"""Field metadata of a config key added after caches existed: left out of :func:`config_hash`
while it holds its default, so that the caches made before it keep their keys."""


def config_hash(*parts: Any, length: int = 12) -> str:
    """Hash dataclasses, dicts and scalars into a short hex key (order of dict keys ignored)."""
    payload = json.dumps([_plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def _plain(obj: Any) -> Any:
    """``dataclasses.asdict`` for hashing, without the :data:`NEW_KEY` fields at their default."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: _plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not (f.metadata.get(NEW_KEY) and getattr(obj, f.name) == f.default)
        }
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj
