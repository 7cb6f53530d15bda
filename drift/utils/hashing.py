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
    """``obj`` with dataclasses as dicts (``dataclasses.asdict``), ready for ``json.dumps``."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj
