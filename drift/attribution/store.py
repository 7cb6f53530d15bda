"""Feature store on disk: sharded .npy arrays plus a JSON metadata file.

Layout of a store directory::

    meta.json            settings (model, layers, dims, dtype, seed, example ids hash,
                         checkpoint, ...), the committed shards and a ``complete`` flag
    features-00000.npy   [rows, dim] in the storage dtype
    norms-00000.npy      [rows] float32: exact ‖g‖ of the unprojected gradient
    ids-00000.json       the example ids of those rows
    manifest-00000.json  sizes and SHA-256 of the three files above (:mod:`drift.utils.manifest`)

Shard ``k`` always holds the same rows (the k-th block of ``shard_size`` examples), whoever
writes it: extraction ranks write their shards side by side (:meth:`FeatureStore.write_shard`,
each file to a temporary name then renamed, the manifest last), and one process then lists them
all in ``meta.json`` (:meth:`FeatureStore.commit`), so a store written by several processes is
file for file the one a single process writes. Readers see committed shards only; an
interrupted extraction resumes from the shards whose files match their manifest
(:meth:`FeatureStore.shard_ids`). Opening a committed store checks every shard against its
manifest: a broken shard is named in a warning and the store counts as unfinished, so the
extraction that opens it recomputes that shard. A store opened with settings different from its
own is refused with the differing keys named.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from drift.utils.io import atomic_open, write_json
from drift.utils.manifest import CONTENT_CHECK_BYTES, check_manifest, write_manifest

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class StoreMismatchError(ValueError):
    """An existing store was built with other settings; the message lists the differing keys."""


class FeatureStore:
    """Sharded per-example features; get one from :meth:`create`, :meth:`open` or
    :meth:`open_or_create`."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self.path, self._meta = path, meta
        self._ids: list[str] = []
        # hashes too while the whole store is small enough (drift.utils.manifest), else sizes
        total = sum(s["rows"] for s in meta["shards"]) * self.dim * self.dtype.itemsize
        content = total <= CONTENT_CHECK_BYTES
        for shard in meta["shards"]:
            rows = self.shard_ids(shard["index"], content)
            if rows is None or len(rows) != shard["rows"]:
                self._meta["shards"], self._meta["complete"], self._ids = [], False, []
                break
            self._ids.extend(rows)

    @staticmethod
    def exists(path: str | Path) -> bool:
        """Whether ``path`` holds a store (finished or not)."""
        return (Path(path) / "meta.json").is_file()

    @classmethod
    def create(
        cls, path: str | Path, dim: int, dtype: str, settings: Mapping[str, Any]
    ) -> FeatureStore:
        """A new empty store; refuses to overwrite an existing one."""
        path = Path(path)
        if cls.exists(path):
            raise FileExistsError(f"{path}: a feature store already exists")
        meta = {
            "format": FORMAT_VERSION,
            "dim": int(dim),
            "dtype": str(np.dtype(dtype)),
            "settings": json.loads(json.dumps(dict(settings))),
            "shards": [],
            "complete": False,
        }
        write_json(path / "meta.json", meta)
        return cls(path, meta)

    @classmethod
    def open(
        cls,
        path: str | Path,
        dim: int | None = None,
        dtype: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> FeatureStore:
        """Open an existing store; with ``dim``/``dtype``/``settings`` given, refuse a mismatch."""
        path = Path(path)
        if not cls.exists(path):
            raise FileNotFoundError(f"{path}: no feature store (meta.json missing)")
        meta = json.loads((path / "meta.json").read_text())
        wanted: dict[str, Any] = {"format": FORMAT_VERSION}
        if dim is not None:
            wanted["dim"] = int(dim)
        if dtype is not None:
            wanted["dtype"] = str(np.dtype(dtype))
        found = {k: meta.get(k) for k in wanted}
        if settings is not None:
            wanted.update(
                {f"settings.{k}": v for k, v in json.loads(json.dumps(dict(settings))).items()}
            )
            found.update({f"settings.{k}": v for k, v in meta["settings"].items()})
        _check_same(path, found, wanted)
        return cls(path, meta)

    @classmethod
    def open_or_create(
        cls, path: str | Path, dim: int, dtype: str, settings: Mapping[str, Any]
    ) -> FeatureStore:
        """Resume the store at ``path`` if it matches these settings, else start one."""
        if cls.exists(path):
            return cls.open(path, dim, dtype, settings)
        return cls.create(path, dim, dtype, settings)

    @property
    def dim(self) -> int:
        return int(self._meta["dim"])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._meta["dtype"])

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self._meta["settings"])

    @property
    def ids(self) -> list[str]:
        """Example ids in row order."""
        return list(self._ids)

    @property
    def num_rows(self) -> int:
        return len(self._ids)

    @property
    def complete(self) -> bool:
        """Whether the extraction that writes this store finished (and committed it)."""
        return bool(self._meta["complete"])

    def write_shard(
        self, index: int, features: np.ndarray, ids: list[str], norms: np.ndarray
    ) -> None:
        """Write shard ``index``: ``features`` [n, dim], ``ids`` (n, unique), ``norms`` [n].

        Each file is written atomically, the shard's manifest last (it marks the shard as
        written); the shard becomes visible to readers at the next :meth:`commit`.
        """
        features, norms = np.asarray(features), np.asarray(norms, dtype=np.float32)
        n = len(ids)
        if features.shape != (n, self.dim) or norms.shape != (n,):
            raise ValueError(
                f"a shard needs features [{n}, {self.dim}] and norms [{n}], "
                f"got {features.shape} and {norms.shape}"
            )
        if len(set(ids)) != n:
            raise ValueError(f"{self.path}: duplicate example ids in shard {index}")
        (self.path / _manifest(index)).unlink(missing_ok=True)
        self._save(f"features-{index:05d}.npy", features.astype(self.dtype))
        self._save(f"norms-{index:05d}.npy", norms)
        write_json(self.path / f"ids-{index:05d}.json", list(ids))
        write_manifest(self.path, _shard_files(index), name=_manifest(index))

    def _save(self, name: str, array: np.ndarray) -> None:
        with atomic_open(self.path / name, "wb") as fh:
            np.save(fh, array)

    def shard_ids(self, index: int, content: bool | None = None) -> list[str] | None:
        """The ids of shard ``index`` as written (committed or not), or None if it is not
        written or its files do not match its manifest (then a warning names the file and the
        mismatch). ``content``: whether to compare hashes as well as sizes
        (:func:`~drift.utils.manifest.check_manifest`)."""
        files = [self.path / name for name in (*_shard_files(index), _manifest(index))]
        if not any(f.exists() for f in files):
            return None
        problem = check_manifest(self.path, _manifest(index), content)
        if problem is None:
            try:
                ids = json.loads((self.path / f"ids-{index:05d}.json").read_text())
            except ValueError as err:
                problem = f"ids-{index:05d}.json is not JSON ({err})"
            else:
                return list(ids)
        log.warning(
            "feature shard %d of %s is broken: %s; it will be recomputed", index, self.path, problem
        )
        return None

    def commit(self, num_shards: int) -> None:
        """List shards ``0 .. num_shards-1`` (all written) in ``meta.json`` and mark the store
        complete; one process does this once every writer has finished."""
        shards, ids = [], []
        for index in range(num_shards):
            rows = self.shard_ids(index, content=False)  # sizes: the writers just hashed them
            if rows is None:
                raise FileNotFoundError(f"{self.path}: shard {index} was never written")
            shards.append({"index": index, "rows": len(rows)})
            ids.extend(rows)
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.path}: an example id appears in two shards")
        self._meta["shards"], self._meta["complete"] = shards, True
        write_json(self.path / "meta.json", self._meta)
        self._ids = ids

    def _shard(self, kind: str, index: int) -> np.ndarray:
        path = self.path / f"{kind}-{index:05d}.npy"
        try:
            return np.load(path, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{path}: cannot read this feature shard ({err}); delete {self.path} to rebuild "
                "the store"
            ) from None

    def norms(self) -> np.ndarray:
        """Exact gradient norms [N] (float32), in row order."""
        parts = [np.asarray(self._shard("norms", s["index"])) for s in self._meta["shards"]]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def iter_chunks(self, chunk_rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_row, features [<= chunk_rows, dim] float32)`` covering every row once.

        Shards are memory-mapped, so memory stays within one chunk whatever the store's size:
        a float32 store yields read-only views of its files (no copy); any other dtype is cast
        into one preallocated float32 buffer that every chunk reuses. A chunk is therefore
        valid until the next one is requested: copy it to keep it.
        """
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be > 0, got {chunk_rows}")
        buffer: np.ndarray | None = None
        offset = 0
        for shard in self._meta["shards"]:
            array = self._shard("features", shard["index"])
            for start in range(0, shard["rows"], chunk_rows):
                part = array[start : start + chunk_rows]
                if array.dtype == np.float32:
                    yield offset + start, np.asarray(part)
                    continue
                if buffer is None:
                    rows = min(chunk_rows, max(s["rows"] for s in self._meta["shards"]))
                    buffer = np.empty((rows, self.dim), np.float32)
                chunk = buffer[: len(part)]
                np.copyto(chunk, part)
                yield offset + start, chunk
            offset += shard["rows"]

    def load(self) -> np.ndarray:
        """All features [N, dim] float32 in memory (for small stores and tests)."""
        out = np.empty((self.num_rows, self.dim), np.float32)
        for start, chunk in self.iter_chunks(65536):
            out[start : start + len(chunk)] = chunk
        return out

    def dot(self, queries: np.ndarray, chunk_rows: int = 65536) -> np.ndarray:
        """Inner products [N, Q] of every row with ``queries`` [Q, dim], streamed by chunks."""
        queries = np.asarray(queries, dtype=np.float32)
        out = np.empty((self.num_rows, queries.shape[0]), dtype=np.float32)
        for start, chunk in self.iter_chunks(chunk_rows):
            out[start : start + len(chunk)] = chunk @ queries.T
        return out


def _shard_files(index: int) -> list[str]:
    return [f"features-{index:05d}.npy", f"norms-{index:05d}.npy", f"ids-{index:05d}.json"]


def _manifest(index: int) -> str:
    return f"manifest-{index:05d}.json"


def _check_same(path: Path, found: dict[str, Any], wanted: dict[str, Any]) -> None:
    keys = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
    if keys:
        lines = [
            f"  {k}: store has {_short(found.get(k))}, requested {_short(wanted.get(k))}"
            for k in keys
        ]
        raise StoreMismatchError(
            f"{path}: feature store was built with different settings; refusing to mix. "
            "Use another directory or delete this one.\n" + "\n".join(lines)
        )


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
