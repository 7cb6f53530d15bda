"""Atomic file writes and JSONL reading with errors that name the file, line and field."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from drift.errors import DataError

__all__ = ["DataError", "atomic_open", "read_jsonl", "write_json", "write_jsonl"]


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and move it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private; keep the usual mode
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=2, sort_keys=False)
        fh.write("\n")


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line, atomically."""
    with atomic_open(path) as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")


def read_jsonl(
    path: str | Path, required: dict[str, type | tuple[type, ...]] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)``; raise :class:`DataError` naming file, line and field.

    ``required`` maps field names to the types they must have. Blank lines are skipped; a
    truncated last line (an interrupted append) is an error like any other malformed line.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    with path.open() as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{lineno}: malformed JSON ({err.msg})") from None
            if not isinstance(record, dict):
                kind_name = type(record).__name__
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {kind_name}")
            for key, kind in (required or {}).items():
                if key not in record:
                    raise DataError(f"{path}:{lineno}: missing field '{key}'")
                if not isinstance(record[key], kind):
                    raise DataError(
                        f"{path}:{lineno}: field '{key}' should be {_type_name(kind)}, "
                        f"got {type(record[key]).__name__}"
                    )
            yield lineno, record


def _type_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__
