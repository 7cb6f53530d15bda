"""Manifests of cached artifacts: the names, sizes and SHA-256 of their files.

A cache entry (a model directory, a feature shard) is complete only once its manifest is in
place: the builder writes every file, then :func:`write_manifest` last, atomically. Before
reusing an entry, :func:`check_manifest` compares the files with their manifest; a missing or
unreadable manifest, a missing file, another size or (see below) another content makes the
entry broken, and the caller logs the path and the mismatch and rebuilds it.

What reuse checks: names and sizes always (they catch a truncated or partly copied file, the
way cached files break in practice); the content hash too when the entry holds at most
:data:`CONTENT_CHECK_BYTES`. SHA-256 streams at about 700 MB/s on the 2-core sandbox (README,
"Reliability"), so that bound keeps a reuse under half a second; a larger entry (a multi-GB
model) would cost seconds at every load, so only its sizes are compared, and its recorded hashes
can be checked on demand with ``check_manifest(path, content=True)``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drift.utils.io import refuse_outside_link, write_json

log = logging.getLogger(__name__)

MANIFEST = "drift-manifest.json"
ALGORITHM = "sha256"
CONTENT_CHECK_BYTES = 256 << 20
_CHUNK = 4 << 20
_VERSION = 1


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 4 MiB chunks."""
    digest = hashlib.new(ALGORITHM)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(
    directory: str | Path, files: Iterable[str] | None = None, name: str = MANIFEST
) -> dict[str, Any]:
    """Record ``files`` (paths relative to ``directory``; default: every regular file below
    it except this manifest, symlinks not followed) with their sizes and hashes in
    ``directory/name``, written atomically. Call it once the entry is complete."""
    directory = Path(directory)
    names = sorted(files) if files is not None else _files_below(directory, name)
    entries = {}
    for rel in names:
        path = directory / rel
        entries[rel] = {"size": path.stat().st_size, ALGORITHM: file_digest(path)}
    manifest = {"version": _VERSION, "files": entries}
    write_json(directory / name, manifest)
    return manifest


def check_manifest(
    directory: str | Path, name: str = MANIFEST, content: bool | None = None
) -> str | None:
    """None if the files of ``directory`` match its manifest ``name``, else what differs
    (naming the file). ``content``: compare hashes too (True), sizes only (False), or hashes
    when the entry holds at most :data:`CONTENT_CHECK_BYTES` (None)."""
    directory = Path(directory)
    path = directory / name
    if not path.is_file():
        return f"no manifest {name} (an interrupted build, or one still running)"
    try:
        manifest = json.loads(path.read_text())
        entries = {rel: (int(e["size"]), str(e[ALGORITHM])) for rel, e in manifest["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        return f"unreadable manifest {name} ({type(err).__name__}: {err})"
    inside = directory.resolve()
    for rel, (size, _) in entries.items():
        file = directory / rel
        if not file.resolve().is_relative_to(inside):
            return f"{rel} is a symbolic link to {file.resolve()}, outside the entry"
        if not file.is_file():
            return f"{rel} is missing"
        found = file.stat().st_size
        if found != size:
            return f"{rel} has {found} bytes, the manifest says {size}"
    if content is None:
        content = sum(size for size, _ in entries.values()) <= CONTENT_CHECK_BYTES
    if content:
        for rel, (_, digest) in entries.items():
            if file_digest(directory / rel) != digest:
                return f"{rel} differs from the manifest ({ALGORITHM} mismatch)"
    return None


def reusable(directory: str | Path, what: str, content: bool | None = None) -> bool:
    """Whether the cache entry ``directory`` can be reused: False if it does not exist, and
    False with a warning naming it and the mismatch if it exists but fails its manifest (its
    symbolic links are then removed: :func:`drop_links`). ConfigError if ``directory`` is a
    symbolic link out of its parent (the cache)."""
    directory = Path(directory)
    refuse_outside_link(directory, f"cached {what}")
    if not directory.exists():
        return False
    problem = check_manifest(directory, content=content)
    if problem is not None:
        log.warning("cached %s %s is broken: %s; rebuilding it", what, directory, problem)
        for link in drop_links(directory):
            log.warning("removed the symbolic link %s from the broken entry", link)
        return False
    return True


def drop_links(directory: str | Path) -> list[Path]:
    """Unlink every symbolic link below ``directory`` (links are removed, never followed) and
    return them: a rebuild that writes into a broken entry in place must not write through a
    link it held to somewhere outside the cache."""
    found = []
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root) / name
            if path.is_symlink():
                path.unlink(missing_ok=True)
                found.append(path)
    return sorted(found)


def _files_below(directory: Path, manifest: str) -> list[str]:
    found = []
    for root, _, files in os.walk(directory):
        for file in files:
            path = Path(root) / file
            if path.is_file() and not path.is_symlink():
                found.append(path.relative_to(directory).as_posix())
    return sorted(f for f in found if f != manifest)
