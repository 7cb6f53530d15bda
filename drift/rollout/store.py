"""Rollout files: JSONL of trajectories, written atomically, resumable chunk by chunk."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from drift.types import Problem, Trajectory
from drift.utils.io import (
    DataError,
    atomic_open,
    naming_path,
    read_jsonl,
    read_lines_at,
    refuse_outside_link,
    write_jsonl,
)
from drift.utils.progress import progress

_FIELDS: dict[str, type | tuple[type, ...]] = {
    "prompt_id": str,
    "sample_id": int,
    "prompt": list,
    "turns": list,
    "feedback": str,
}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "target": str,
    "ret": (int, float),
    "weight": (int, float),
    "influence": (int, float, type(None)),
    "users": (list, type(None)),
    "prefill": str,
}
_TURN_FIELDS: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "answer": (str, type(None)),
    "correct": bool,
    "valid": bool,
}
_TURN_OPTIONAL: dict[str, type | tuple[type, ...]] = {"reward": (int, float)}
_MESSAGE_FIELDS: dict[str, type | tuple[type, ...]] = {"role": str, "content": str}


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _check(
    where: str, record: Any, required: dict[str, Any], optional: dict[str, Any] | None, prefix: str
) -> None:
    """Raise DataError for a non-object, a missing or unknown field, or a field's wrong type.

    ``optional=None`` allows any extra field (chat messages may carry more than role/content).
    """
    if not isinstance(record, dict):
        name = prefix.rstrip(".") or "record"
        raise DataError(f"{where}: field '{name}' should be an object, got {type(record).__name__}")
    allowed = set(record) if optional is None else {*required, *optional}
    unknown = sorted(set(record) - allowed)
    if unknown:
        raise DataError(f"{where}: unknown field '{prefix}{unknown[0]}'")
    for key, kind in {**required, **(optional or {})}.items():
        if key not in record:
            if key in required:
                raise DataError(f"{where}: missing field '{prefix}{key}'")
        elif not isinstance(record[key], kind):
            raise DataError(
                f"{where}: field '{prefix}{key}' should be {_names(kind)}, "
                f"got {type(record[key]).__name__}"
            )


def _to_trajectory(path: Path, lineno: int, record: Any) -> Trajectory:
    """Validate one JSON record (all fields, every turn and message) and build the Trajectory."""
    where = f"{path}:{lineno}"
    _check(where, record, _FIELDS, _OPTIONAL, "")
    for j, msg in enumerate(record["prompt"]):
        _check(where, msg, _MESSAGE_FIELDS, None, f"prompt[{j}].")
    for j, turn in enumerate(record["turns"]):
        _check(where, turn, _TURN_FIELDS, _TURN_OPTIONAL, f"turns[{j}].")
    return Trajectory.from_dict(record)


class TrajectoryFile(Sequence[Trajectory]):
    """A rollout file read lazily: iterating parses one line at a time, indexing seeks to one
    line, and only each record's byte offset and line number are held (16 bytes per episode),
    so a million episodes are weighted and encoded without holding them.

    A bad record raises DataError naming the file, line and field when it is read.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: file not found")
        self._stamp = _stamp(self.path)
        linenos, offsets = [], []
        for lineno, start, _, text in read_lines_at(self.path):
            if text.strip():
                linenos.append(lineno)
                offsets.append(start)
        self._linenos = np.array(linenos, dtype=np.int64)
        self._offsets = np.array(offsets, dtype=np.int64)

    def _check_unchanged(self) -> None:
        """DataError if the file was replaced or changed since it was indexed: every pass over
        it (weights, then examples) must read the same episodes."""
        if _stamp(self.path) != self._stamp:
            raise DataError(f"{self.path}: the file changed while it was being read")

    def __len__(self) -> int:
        return len(self._offsets)

    def __iter__(self) -> Iterator[Trajectory]:
        self._check_unchanged()
        for lineno, record in read_jsonl(self.path):
            yield _to_trajectory(self.path, lineno, record)

    @overload
    def __getitem__(self, index: int) -> Trajectory: ...

    @overload
    def __getitem__(self, index: slice) -> list[Trajectory]: ...

    def __getitem__(self, index: int | slice) -> Trajectory | list[Trajectory]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # negative indices; IndexError out of range
        self._check_unchanged()
        lineno = int(self._linenos[i])
        with self.path.open("rb") as fh:
            fh.seek(int(self._offsets[i]))
            line = fh.readline()
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{self.path}:{lineno}: malformed JSON ({err})") from None
        return _to_trajectory(self.path, lineno, record)


def _stamp(path: Path) -> tuple[int, int, int]:
    """What identifies a file's content cheaply: inode, size, modification time (ns)."""
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def read_trajectories(path: Path) -> list[Trajectory]:
    """Read a whole rollout file into memory (:class:`TrajectoryFile` streams it); a bad record
    raises DataError naming the file, line and field."""
    return list(TrajectoryFile(path))


def write_trajectories(path: Path, trajectories: Iterable[Trajectory]) -> None:
    """Write trajectories as JSONL, atomically, one at a time."""
    write_jsonl(path, (t.to_dict() for t in trajectories))


@dataclass
class _Lines:
    """Where each record of a partial rollout file is: its problem's index in the run, sample
    id, and the byte span of its line (each int64 [M]); whether the last line was cut short."""

    problem: np.ndarray
    sample: np.ndarray
    start: np.ndarray
    end: np.ndarray
    truncated: bool


def _scan_partial(path: Path, order: dict[str, int], samples: int) -> _Lines:
    """Validate every record of an interrupted run's file (``order``: problem id -> index) and
    note where each is; an unterminated last line, or a terminated but unparsable one, counts as
    cut short and is left out. A bad line elsewhere raises DataError naming file, line, field.
    A sample id outside 0..samples-1 is noted as -1 (its chunk is then resampled)."""
    cols: list[list[int]] = [[], [], [], []]
    truncated = False
    if not path.exists():
        return _Lines(*(np.zeros(0, dtype=np.int64) for _ in cols), truncated=False)
    pending: DataError | None = None  # a bad line is an error unless it turns out to be the last
    for lineno, start, end, text in read_lines_at(path):
        if not text.strip():
            continue
        if pending is not None:
            raise pending
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            pending = DataError(f"{path}:{lineno}: malformed JSON ({err.msg})")
            truncated = True
            continue
        if not text.endswith("\n"):  # parsable but unterminated: an append cut short
            truncated = True
            break
        t = _to_trajectory(path, lineno, record)
        if t.prompt_id not in order:
            raise DataError(
                f"{path}:{lineno}: prompt id '{t.prompt_id}' is not among this run's problems"
            )
        sample = t.sample_id if 0 <= t.sample_id < samples else -1
        for col, value in zip(cols, (order[t.prompt_id], sample, start, end), strict=True):
            col.append(value)
    return _Lines(*(np.array(c, dtype=np.int64) for c in cols), truncated=truncated)


def _complete(lines: _Lines, n_problems: int, chunk_prompts: int, samples: int) -> np.ndarray:
    """Per line, whether its chunk is complete: every problem of the chunk has every sample id
    0..samples-1 exactly once and nothing else (an append cut short leaves its chunk
    incomplete, wherever the cut fell). bool [M]."""
    n_chunks = -(-n_problems // chunk_prompts)
    chunk = lines.problem // chunk_prompts  # [M]
    valid = (lines.sample >= 0) & (lines.sample < samples)
    counts = np.bincount(
        (lines.problem * samples + lines.sample)[valid], minlength=n_problems * samples
    )  # [P * S], how often each (problem, sample id) occurs
    once = np.bincount(
        np.arange(n_problems * samples) // (samples * chunk_prompts),
        weights=(counts == 1).astype(np.float64),
        minlength=n_chunks,
    )  # [C], pairs of each chunk seen exactly once
    sizes = np.diff(np.minimum(np.arange(n_chunks + 1) * chunk_prompts, n_problems)) * samples
    ok = (once == sizes) & (np.bincount(chunk, minlength=n_chunks) == sizes)  # no stray lines
    return ok[chunk]


def _copy_lines(src: Path, dest: Path, lines: _Lines, rows: np.ndarray) -> None:
    """Write the lines ``rows`` of ``src`` (in that order) to ``dest``, atomically."""
    with src.open("rb") as fh, atomic_open(dest, "wb") as out:
        for i in rows:
            fh.seek(int(lines.start[i]))
            out.write(fh.read(int(lines.end[i] - lines.start[i])))


def _append(path: Path, trajectories: list[Trajectory]) -> None:
    """Append whole prompt groups and force them to disk; an append that fails (a full disk) is
    cut off again, so the file keeps whole lines, and the error names the file."""
    data = memoryview("".join(json.dumps(t.to_dict()) + "\n" for t in trajectories).encode())
    with naming_path(path), path.open("ab", buffering=0) as fh:
        start = fh.tell()
        try:
            while data:  # unbuffered: a short write is retried, a failed one raises
                data = data[fh.write(data) :]
            os.fsync(fh.fileno())
        except OSError:
            fh.truncate(start)
            raise


def _check_chunk(
    chunk: list[Problem], trajectories: list[Trajectory], samples_per_prompt: int
) -> list[Trajectory]:
    """Reject stray prompt ids, duplicate and missing samples; return them grouped by prompt."""
    order = {p.id: i for i, p in enumerate(chunk)}
    seen: set[tuple[str, int]] = set()
    for t in trajectories:
        if t.prompt_id not in order:
            raise ValueError(f"sample_chunk returned prompt id {t.prompt_id!r} not in its chunk")
        if (t.prompt_id, t.sample_id) in seen:
            raise ValueError(f"sample_chunk returned ({t.prompt_id!r}, {t.sample_id}) twice")
        seen.add((t.prompt_id, t.sample_id))
    missing = [(p.id, s) for p in chunk for s in range(samples_per_prompt) if (p.id, s) not in seen]
    if missing or len(seen) != len(chunk) * samples_per_prompt:
        raise ValueError(
            f"sample_chunk must return sample ids 0..{samples_per_prompt - 1} for every prompt "
            f"of its chunk; missing {missing[:3]}, got {len(seen)} trajectories"
        )
    return sorted(trajectories, key=lambda t: (order[t.prompt_id], t.sample_id))


def collect_rollouts(
    path: Path,
    problems: list[Problem],
    chunk_prompts: int,
    sample_chunk: Callable[[list[Problem]], list[Trajectory]],
    description: str,
    *,
    samples_per_prompt: int,
    on_append: Callable[[], None] | None = None,
) -> TrajectoryFile:
    """Rollouts for ``problems``, sampled chunk by chunk and resumable after an interruption.

    An existing ``path`` is returned as is. Otherwise chunk k is always
    ``problems[k * chunk_prompts : (k + 1) * chunk_prompts]``: its ``samples_per_prompt``
    trajectories per problem come from ``sample_chunk`` and are appended (flush + fsync, then
    ``on_append()``) to ``path.with_suffix(".partial.jsonl")``. A rerun keeps the chunks found
    complete there and samples the others, whole, so that a chunk's samples (which depend on the
    chunk: see ``drift.pipeline.rollouts``) come out the same as without the interruption. At
    the end ``path`` is written atomically (ordered by problem, then sample id) and the partial
    removed. Only one chunk's trajectories are held at a time; the files are read and copied
    line by line. ConfigError if ``path`` or the partial file is a symbolic link out of its
    directory.
    """
    path = Path(path)
    partial = path.with_suffix(".partial.jsonl")
    for file in (path, partial):
        refuse_outside_link(file, "rollout file")
    if path.exists():
        return TrajectoryFile(path)
    if chunk_prompts <= 0 or samples_per_prompt <= 0:
        raise ValueError(
            f"chunk_prompts and samples_per_prompt must be > 0, got {chunk_prompts}, "
            f"{samples_per_prompt}"
        )
    order = {p.id: i for i, p in enumerate(problems)}
    if len(order) != len(problems):
        raise ValueError("problem ids must be unique")
    lines = _scan_partial(partial, order, samples_per_prompt)
    keep = _complete(lines, len(problems), chunk_prompts, samples_per_prompt)  # [M]
    if lines.truncated or not keep.all():  # later appends must start on a clean line
        _copy_lines(partial, partial, lines, np.flatnonzero(keep))
    kept = set(lines.problem[keep].tolist())
    chunks = [problems[i : i + chunk_prompts] for i in range(0, len(problems), chunk_prompts)]
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.touch()
    with progress(len(problems), description) as bar:
        if kept:
            bar.advance(len(kept))
        for k, chunk in enumerate(chunks):
            if k * chunk_prompts in kept:
                continue
            new = _check_chunk(chunk, sample_chunk(chunk), samples_per_prompt)
            _append(partial, new)
            if on_append is not None:
                on_append()
            bar.advance(len(chunk))
    lines = _scan_partial(partial, order, samples_per_prompt)
    _copy_lines(partial, path, lines, np.lexsort((lines.sample, lines.problem)))
    partial.unlink(missing_ok=True)
    return TrajectoryFile(path)
