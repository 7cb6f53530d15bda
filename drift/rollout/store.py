"""Rollout files: JSONL of trajectories, written atomically, resumable chunk by chunk."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from drift.types import Problem, Trajectory
from drift.utils.io import (
    DataError,
    naming_path,
    read_jsonl,
    read_text,
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


def read_trajectories(path: Path) -> list[Trajectory]:
    """Read a rollout file; a bad record raises DataError naming the file, line and field."""
    path = Path(path)
    return [_to_trajectory(path, n, rec) for n, rec in read_jsonl(path)]


def write_trajectories(path: Path, trajectories: Iterable[Trajectory]) -> None:
    """Write trajectories as JSONL, atomically."""
    write_jsonl(path, (t.to_dict() for t in trajectories))


def _read_partial(path: Path) -> tuple[list[Trajectory], bool]:
    """Records of an interrupted run and whether its last line was cut short (unterminated, or
    terminated but unparsable); that line is left out. A bad line elsewhere raises DataError."""
    if not path.exists():
        return [], False
    lines = read_text(path).split("\n")
    truncated = bool(lines.pop().strip())  # text after the last newline: an unfinished line
    records: list[Trajectory] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            if lineno == len(lines) and not truncated:
                truncated = True
                break
            raise DataError(f"{path}:{lineno}: malformed JSON ({err.msg})") from None
        records.append(_to_trajectory(path, lineno, record))
    return records, truncated


def _complete_chunks(
    chunks: list[list[Problem]], records: list[Trajectory], samples_per_prompt: int
) -> list[bool]:
    """For each chunk, whether ``records`` hold exactly its samples (every prompt, every sample
    id, once): an append cut short leaves its chunk incomplete, wherever the cut fell."""
    counts = Counter((t.prompt_id, t.sample_id) for t in records)
    per_prompt = Counter(t.prompt_id for t in records)
    return [
        all(per_prompt[p.id] == samples_per_prompt for p in chunk)
        and all(counts[(p.id, s)] == 1 for p in chunk for s in range(samples_per_prompt))
        for chunk in chunks
    ]


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
) -> list[Trajectory]:
    """Rollouts for ``problems``, sampled chunk by chunk and resumable after an interruption.

    An existing ``path`` is read and returned as is. Otherwise chunk k is always
    ``problems[k * chunk_prompts : (k + 1) * chunk_prompts]``: its ``samples_per_prompt``
    trajectories per problem come from ``sample_chunk`` and are appended (flush + fsync, then
    ``on_append()``) to ``path.with_suffix(".partial.jsonl")``. A rerun keeps the chunks found
    complete there and samples the others, whole, so that a chunk's samples (which depend on the
    chunk: see ``drift.pipeline.rollouts``) come out the same as without the interruption. At
    the end ``path`` is written atomically (ordered by problem, then sample id) and the partial
    removed. ConfigError if ``path`` or the partial file is a symbolic link out of its directory.
    """
    path = Path(path)
    partial = path.with_suffix(".partial.jsonl")
    for file in (path, partial):
        refuse_outside_link(file, "rollout file")
    if path.exists():
        return read_trajectories(path)
    if chunk_prompts <= 0 or samples_per_prompt <= 0:
        raise ValueError(
            f"chunk_prompts and samples_per_prompt must be > 0, got {chunk_prompts}, "
            f"{samples_per_prompt}"
        )
    order = {p.id: i for i, p in enumerate(problems)}
    if len(order) != len(problems):
        raise ValueError("problem ids must be unique")
    records, truncated = _read_partial(partial)
    stray = next((t.prompt_id for t in records if t.prompt_id not in order), None)
    if stray is not None:
        raise DataError(f"{partial}: prompt id '{stray}' is not among this run's problems")
    chunks = [problems[i : i + chunk_prompts] for i in range(0, len(problems), chunk_prompts)]
    complete = _complete_chunks(chunks, records, samples_per_prompt)
    kept = {p.id for chunk, ok in zip(chunks, complete, strict=True) if ok for p in chunk}
    done = [t for t in records if t.prompt_id in kept]
    if truncated or len(done) < len(records):  # later appends must start on a clean line
        write_trajectories(partial, done)
    partial.parent.mkdir(parents=True, exist_ok=True)
    with progress(len(problems), description) as bar:
        if kept:
            bar.advance(len(kept))
        for chunk in (c for c, ok in zip(chunks, complete, strict=True) if not ok):
            new = _check_chunk(chunk, sample_chunk(chunk), samples_per_prompt)
            _append(partial, new)
            if on_append is not None:
                on_append()
            done.extend(new)
            bar.advance(len(chunk))
    done.sort(key=lambda t: (order[t.prompt_id], t.sample_id))
    write_trajectories(path, done)
    partial.unlink(missing_ok=True)
    return done
