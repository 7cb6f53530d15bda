"""Atomic file writes and JSONL reading with errors that name the file, line and field."""

from __future__ import annotations

import codecs
import glob
import itertools
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from drift.errors import ConfigError, DataError

__all__ = [
    "MAX_RECORD_BYTES",
    "DataError",
    "atomic_open",
    "data_files",
    "naming_path",
    "read_jsonl",
    "read_lines",
    "read_lines_at",
    "read_text",
    "refuse_outside_link",
    "write_json",
    "write_jsonl",
]

MAX_RECORD_BYTES = 1 << 20
"""Largest row of a task file (1 MiB, line ending excluded): far above any real prompt, far below
one that would exhaust memory once tokenised; a larger row stops the load with a DataError."""

DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
"""The record files drift reads (:func:`drift.data.sources.file_records`)."""

_SKIP_CHUNK = 1 << 16  # bytes read at a time while measuring an over-long line


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path`` and move it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private; keep the usual mode
    try:
        with naming_path(path), os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def naming_path(path: str | Path) -> Iterator[None]:
    """Re-raise an OSError that names no file (a full disk on write, flush or fsync) as the same
    error naming ``path``."""
    try:
        yield
    except OSError as err:
        if err.filename is not None:
            raise
        raise OSError(err.errno, err.strerror, str(path)) from err


def refuse_outside_link(path: str | Path, what: str) -> None:
    """ConfigError naming ``path`` and its target when ``path`` is a symbolic link that resolves
    outside its own directory: a cache entry planted that way is neither reused nor written
    through (appends would follow it; :func:`atomic_open` replaces the link itself)."""
    path = Path(path)
    if not path.is_symlink():
        return
    target = path.resolve()
    if not target.is_relative_to(path.parent.resolve()):
        raise ConfigError(
            f"{what} {path} is a symbolic link to {target}, outside {path.parent}; remove the "
            "link (drift does not reuse or write through links that leave its cache)"
        )


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


def _decode(data: bytes, path: Path, lineno: int, offset: int) -> str:
    """``data`` (line ``lineno``, starting at byte ``offset`` of ``path``) as UTF-8 text (a
    byte-order mark at the start of the file dropped); DataError naming the file, line and byte
    offset of the first invalid byte otherwise."""
    bom = len(codecs.BOM_UTF8) if offset == 0 and data.startswith(codecs.BOM_UTF8) else 0
    try:
        return str(memoryview(data)[bom:], "utf-8")
    except UnicodeDecodeError as err:
        start, end = bom + err.start, bom + err.end
        line = lineno + data.count(b"\n", 0, start)
        raise DataError(
            f"{path}:{line}: not valid UTF-8 at byte offset {offset + start} "
            f"({err.reason}: {data[start:end]!r}); save the file as UTF-8"
        ) from None


def read_text(path: str | Path) -> str:
    """The whole of a UTF-8 text file; DataError naming the file, line and byte offset of an
    invalid byte, or a missing file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return _decode(path.read_bytes(), path, 1, 0)


def read_lines(path: str | Path, max_line_bytes: int | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 text file, line ending included.

    The file is read line by line in binary and each line decoded on its own, so an invalid byte
    raises DataError naming the file, line and byte offset. With ``max_line_bytes`` a longer line
    (line ending excluded) raises DataError naming the file, line and its size, after reading it
    in bounded chunks only: it is never held whole in memory.
    """
    for lineno, _, _, text in read_lines_at(path, max_line_bytes):
        yield lineno, text


def read_lines_at(
    path: str | Path, max_line_bytes: int | None = None
) -> Iterator[tuple[int, int, int, str]]:
    """:func:`read_lines` with each line's byte span: ``(line_number, start, end, text)``, the
    bytes ``[start, end)`` of the file being the line (a byte-order mark before it excluded)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open("rb") as fh:
        offset = 0
        for lineno in itertools.count(1):
            # The limit, one byte more and "\r\n": a line within the limit is read whole.
            raw = fh.readline(-1 if max_line_bytes is None else max_line_bytes + 3)
            if not raw:
                return
            if max_line_bytes is not None and len(raw.rstrip(b"\r\n")) > max_line_bytes:
                size = _rest_of_line(fh, raw)
                raise DataError(
                    f"{path}:{lineno}: row of {size} bytes (from byte offset {offset}) is over "
                    f"the limit of {max_line_bytes} bytes per row"
                )
            text = _decode(raw, path, lineno, offset)
            yield lineno, offset + len(raw) - len(text.encode()), offset + len(raw), text
            offset += len(raw)


def _rest_of_line(fh: IO[bytes], head: bytes) -> int:
    """Size in bytes (line ending excluded) of the line that starts with ``head``, reading the
    rest of it from ``fh`` in bounded chunks."""
    size, tail = len(head), head
    while not tail.endswith(b"\n"):
        chunk = fh.readline(_SKIP_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        tail = tail[-1:] + chunk
    return size - (len(tail) - len(tail.rstrip(b"\r\n")))


def read_jsonl(
    path: str | Path,
    required: dict[str, type | tuple[type, ...]] | None = None,
    max_line_bytes: int | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)``; raise :class:`DataError` naming file, line and field.

    ``required`` maps field names to the types they must have. Blank lines are skipped; a
    truncated last line (an interrupted append) is an error like any other malformed line.
    Invalid UTF-8 and lines over ``max_line_bytes`` raise DataError too (:func:`read_lines`).
    """
    path = Path(path)
    for lineno, line in read_lines(path, max_line_bytes):
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


def data_files(path: str) -> list[Path]:
    """The record files (:data:`DATA_SUFFIXES`) at ``path``: the file itself, the files under a
    directory (recursively), or those a glob pattern (``dir/*/test-*.parquet``) matches; sorted
    by path, empty when there are none."""
    found = Path(path)
    if found.is_file():
        return [found]
    candidates = found.rglob("*") if found.is_dir() else map(Path, glob.glob(path, recursive=True))
    return sorted(p for p in candidates if p.is_file() and p.suffix in DATA_SUFFIXES)
