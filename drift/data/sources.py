"""Load verifiable problems: generated tasks (embedded, arithmetic), local JSONL/JSON/parquet/CSV
files, or HF datasets.

Record formats (``task.format``; ``auto`` detects each record by its fields):

- ``metamathqa``: ``query``, ``response`` ending in "The answer is: <answer>"; with
  ``task.filter_type`` set, only records whose ``type`` starts with it (e.g. ``"MATH_"``).
- ``math``: ``problem``, ``solution`` with a ``\\boxed{...}`` answer (nested braces allowed);
  an ``answer`` field, when present, wins.
- ``drift``: optional ``id``, ``prompt`` (a string) or ``messages`` (chat messages), ``answer``.

Math questions (``metamathqa``, ``math``) are wrapped in a prompt asking for
``<think>...</think><answer>...</answer>``, after ``task.system_prompt`` when set; ``drift``
prompts are used as written (with the system prompt prepended if they have none). A bad record
raises :class:`DataError` naming the file, the line (or record index) and the field; so do
invalid UTF-8 (with the byte offset) and a record over ``MAX_RECORD_BYTES`` (1 MiB, with its
size; a JSONL row is measured while it is read, before it is decoded).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from drift.config import ConfigError, RecordFormat, TaskConfig, TaskSource
from drift.data.arithmetic import make_arithmetic_split
from drift.data.embedded import make_split
from drift.types import Message, Problem
from drift.utils.io import MAX_RECORD_BYTES, DataError, read_jsonl, read_text

INSTRUCTION = (
    "Think step by step inside <think>...</think>, then give only the final answer inside "
    "<answer>...</answer>."
)
ANSWER_MARKER = "The answer is:"
_ROLES = ("system", "user", "assistant")

Record = tuple[str, int, dict[str, Any]]
"""(where, index, record): ``where`` names the file and line or record, for error messages."""


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    begin = text.index("{", start) + 1
    depth = 1
    for pos in range(begin, len(text)):
        depth += (text[pos] == "{") - (text[pos] == "}")
        if depth == 0:
            return text[begin:pos].strip()
    return None


def math_prompt(question: str, system_prompt: str | None) -> list[Message]:
    """Chat messages for a math question: optional system prompt, question + answer format."""
    messages: list[Message] = (
        [{"role": "system", "content": system_prompt}] if system_prompt else []
    )
    messages.append({"role": "user", "content": f"{question.strip()}\n\n{INSTRUCTION}"})
    return messages


def _field(record: dict[str, Any], key: str, where: str, kinds: Any = str) -> Any:
    if key not in record:
        raise DataError(f"{where}: missing field '{key}'")
    value = record[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise DataError(f"{where}: field '{key}' has type {type(value).__name__}")
    return value


def _detect(record: dict[str, Any], where: str) -> RecordFormat:
    fields = set(record)
    if {"query", "response"} <= fields:
        return RecordFormat.metamathqa
    if {"problem", "solution"} <= fields:
        return RecordFormat.math
    if "answer" in fields and fields & {"prompt", "messages"}:
        return RecordFormat.drift
    raise DataError(
        f"{where}: cannot detect the record format from fields {sorted(fields)}; expected "
        "query+response (metamathqa), problem+solution (math) or prompt|messages+answer (drift)"
    )


def _messages(record: dict[str, Any], where: str) -> list[Message]:
    value = _field(record, "messages", where, list)
    if not value:
        raise DataError(f"{where}: field 'messages' is empty")
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise DataError(f"{where}: field 'messages[{i}]' is not an object")
        role = _field(message, "role", f"{where}: messages[{i}]")
        _field(message, "content", f"{where}: messages[{i}]")
        if role not in _ROLES:
            raise DataError(f"{where}: field 'messages[{i}].role' is {role!r}, not one of {_ROLES}")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _drift(record: dict[str, Any], where: str, task: TaskConfig) -> tuple[list[Message], str]:
    answer = str(_field(record, "answer", where, (str, int, float)))
    if "messages" in record:
        messages = _messages(record, where)
    else:
        messages = [{"role": "user", "content": _field(record, "prompt", where)}]
    if task.system_prompt and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": task.system_prompt})
    return messages, answer


def _metamathqa(record: dict[str, Any], where: str, task: TaskConfig) -> tuple[list[Message], str]:
    question = _field(record, "query", where)
    response = _field(record, "response", where)
    _, marker, answer = response.rpartition(ANSWER_MARKER)
    if not marker or not answer.strip():
        raise DataError(f"{where}: field 'response' has no '{ANSWER_MARKER} <answer>'")
    return math_prompt(question, task.system_prompt), answer.strip()


def _math(record: dict[str, Any], where: str, task: TaskConfig) -> tuple[list[Message], str]:
    question = _field(record, "problem", where)
    if isinstance(record.get("answer"), str) and record["answer"].strip():
        answer: str | None = record["answer"].strip()
    else:
        answer = extract_boxed(_field(record, "solution", where))
    if not answer:
        raise DataError(f"{where}: field 'solution' has no \\boxed{{...}} answer")
    return math_prompt(question, task.system_prompt), answer


_PARSERS = {
    RecordFormat.drift: _drift,
    RecordFormat.metamathqa: _metamathqa,
    RecordFormat.math: _math,
}


_QUESTION = {RecordFormat.metamathqa: "query", RecordFormat.math: "problem"}
"""The field holding a record's bare question (without the task's answer instruction)."""


def _keep(record: dict[str, Any], where: str, fmt: RecordFormat, task: TaskConfig) -> bool:
    if fmt != RecordFormat.metamathqa or not task.filter_type:
        return True
    return _field(record, "type", where).startswith(task.filter_type)


def _problems(records: Iterator[Record], task: TaskConfig, split: str) -> Iterator[Problem]:
    seen: set[str] = set()
    fixed = RecordFormat(task.format)
    for where, index, record in records:
        fmt = _detect(record, where) if fixed == RecordFormat.auto else fixed
        if not _keep(record, where, fmt, task):
            continue
        messages, answer = _PARSERS[fmt](record, where, task)
        pid = f"{split}-{index:06d}"
        if fmt == RecordFormat.drift and "id" in record:
            pid = str(_field(record, "id", where, (str, int)))
        if pid in seen:
            raise DataError(f"{where}: field 'id' repeats {pid!r}")
        seen.add(pid)
        meta = {"source": where, "format": fmt.value}
        if fmt in _QUESTION:  # the question alone, for prompt formats that frame it themselves
            meta["question"] = record[_QUESTION[fmt]].strip()
        if "type" in record:
            meta["type"] = record["type"]
        yield Problem(id=pid, messages=messages, answer=answer, meta=meta)


def _check_size(where: str, record: dict[str, Any]) -> None:
    """DataError when ``record`` takes more than :data:`MAX_RECORD_BYTES` as JSON (a JSONL row
    is measured before it is decoded, by :func:`read_jsonl`)."""
    size = len(json.dumps(record, ensure_ascii=False, default=str).encode())
    if size > MAX_RECORD_BYTES:
        raise DataError(
            f"{where}: record of {size} bytes is over the limit of {MAX_RECORD_BYTES} bytes per row"
        )


def file_records(path: Path) -> Iterator[Record]:
    """The records of a local ``.jsonl``, ``.json`` (a list), ``.parquet`` or ``.csv`` file (a
    header row; every value a string), each with where it is; DataError naming the file (and
    line or record) for a missing file, another type, or a record that cannot be read."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.suffix == ".jsonl":
        for index, (lineno, record) in enumerate(read_jsonl(path, max_line_bytes=MAX_RECORD_BYTES)):
            yield f"{path}:{lineno}", index, record
        return
    if path.suffix == ".json":
        try:
            records = json.loads(read_text(path))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None
        if not isinstance(records, list):
            raise DataError(f"{path}: expected a JSON list of records")
    elif path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            records = pq.read_table(path).to_pylist()
        except (pa.ArrowException, OSError) as err:
            raise DataError(f"{path}: not a readable parquet file ({err})") from None
    elif path.suffix == ".csv":
        records = list(csv.DictReader(io.StringIO(read_text(path), newline="")))
    else:
        raise DataError(f"{path}: unsupported file type (use .jsonl, .json, .parquet or .csv)")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise DataError(f"{path}: record {index}: expected an object")
        _check_size(f"{path}: record {index}", record)
        yield f"{path}: record {index}", index, record


def _hf_records(task: TaskConfig, split: str) -> Iterator[Record]:
    import datasets

    hf_split = task.splits.get(split, split)
    data = datasets.load_dataset(task.dataset, task.dataset_config, split=hf_split)
    for index, record in enumerate(data):
        where = f"{task.dataset}[{hf_split}]: record {index}"
        _check_size(where, record)
        yield where, index, record


def _generated(task: TaskConfig, split: str) -> list[Problem]:
    """A split of a generated task (embedded, arithmetic): ``task.num_<split>`` problems."""
    sizes = {"train": task.num_train, "val": task.num_val, "test": task.num_test}
    if split not in sizes:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(sizes)}")
    if task.name == TaskSource.arithmetic:
        return make_arithmetic_split(
            split, sizes[split], task.seed, task.arithmetic, task.system_prompt
        )
    return make_split(split, sizes[split], task.seed, task.num_candidates)


def _sampled(problems: Iterable[Problem], task: TaskConfig, split: str) -> Iterable[Problem]:
    """``problems`` as they come, or for the train split with ``task.sample_seed`` in the order that
    ``datasets.Dataset.shuffle(seed=task.sample_seed)`` gives a dataset of them (NumPy's
    ``default_rng(seed).permutation``), as the DRIFT authors shuffle MetaMathQA after the type
    filter and before taking their first ``--max_prompts``."""
    if task.sample_seed is None or split != "train":
        return problems
    listed = list(problems)
    order = np.random.default_rng(task.sample_seed).permutation(len(listed))
    return [listed[i] for i in order]


def load_problems(task: TaskConfig, split: str) -> list[Problem]:
    """Problems of ``split`` ("train", "val", "test"), at most ``task.limit`` of them: the first
    ones, or for train a seeded sample with ``task.sample_seed`` (:func:`_sampled`).

    Generated tasks (embedded, arithmetic) return ``task.num_<split>`` problems (none for val
    when num_val = 0); file and dataset sources raise :class:`DataError` when nothing is left.
    """
    if task.name in (TaskSource.embedded, TaskSource.arithmetic):
        return list(itertools.islice(_sampled(_generated(task, split), task, split), task.limit))
    if task.name == TaskSource.file:
        if split not in task.files:
            raise ConfigError(f"task.files.{split} is not set")
        source = task.files[split]
        records = file_records(Path(source))
    else:
        source = f"{task.dataset}[{task.splits.get(split, split)}]"
        records = _hf_records(task, split)
    problems = _sampled(_problems(records, task, split), task, split)
    problems = list(itertools.islice(problems, task.limit))
    if not problems:
        raise DataError(f"{source}: no problems for split {split!r} (check task.filter_type)")
    return problems
