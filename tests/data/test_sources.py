"""Problem loading: embedded task, JSONL/JSON/parquet files, HF datasets, record formats."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from drift.config import ConfigError, RecordFormat, TaskConfig, TaskSource
from drift.data.sources import INSTRUCTION, extract_boxed, load_problems
from drift.utils.io import MAX_RECORD_BYTES, DataError

METAMATH = [
    {"query": "What is 1+1?", "response": "1+1=2.\nThe answer is: 2", "type": "MATH_AnsAug"},
    {"query": "Half of 1?", "response": "It is 1/2. The answer is: \\frac{1}{2}", "type": "GSM_SV"},
    {"query": "x if 2x=6?", "response": "x=3. The answer is: 3 ", "type": "MATH_SV"},
]
MATH = [
    {"problem": "Compute 1/2.", "solution": "So $\\boxed{\\frac{1}{2}}$."},
    {"problem": "Sum?", "solution": "First \\boxed{1}, then $\\boxed{\\{1, 2\\}}$."},
]


def _write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _file_task(path: Path, **kwargs: Any) -> TaskConfig:
    return TaskConfig(name=TaskSource.file, files={"train": str(path)}, **kwargs)


def test_extract_boxed() -> None:
    assert extract_boxed("a $\\boxed{\\frac{1}{2}}$ b") == "\\frac{1}{2}"
    assert extract_boxed("\\boxed{1} and \\boxed{\\sqrt{\\frac{a}{b}}}") == "\\sqrt{\\frac{a}{b}}"
    assert extract_boxed("\\fbox{7}") == "7"
    assert extract_boxed("no box") is None
    assert extract_boxed("\\boxed{\\frac{1}{2}") is None  # unbalanced


def test_embedded_sizes_and_limit() -> None:
    task = TaskConfig(num_train=40, num_val=8, num_test=20, seed=3)
    assert [len(load_problems(task, s)) for s in ("train", "val", "test")] == [40, 8, 20]
    assert load_problems(task, "test")[0].id == "test-000000"
    assert load_problems(TaskConfig(num_val=0), "val") == []
    limited = TaskConfig(num_train=40, limit=5, seed=3)
    assert [p.id for p in load_problems(limited, "train")] == [
        p.id for p in load_problems(task, "train")[:5]
    ]


def test_metamathqa_with_filter(tmp_path: Path) -> None:
    task = _file_task(
        _write_jsonl(tmp_path / "m.jsonl", METAMATH),
        format=RecordFormat.metamathqa,
        filter_type="MATH_",
        system_prompt="You are a careful solver.",
    )
    problems = load_problems(task, "train")
    assert [p.answer for p in problems] == ["2", "3"]
    assert [p.id for p in problems] == ["train-000000", "train-000002"]
    assert problems[0].messages == [
        {"role": "system", "content": "You are a careful solver."},
        {"role": "user", "content": f"What is 1+1?\n\n{INSTRUCTION}"},
    ]
    assert "<think>...</think>" in INSTRUCTION and "<answer>...</answer>" in INSTRUCTION
    assert problems[1].meta["type"] == "MATH_SV"
    # the bare question, which prompt_format=drift_* frames with its own instructions
    assert problems[0].meta["question"] == "What is 1+1?"
    unfiltered = load_problems(_file_task(tmp_path / "m.jsonl"), "train")  # auto format
    assert [p.answer for p in unfiltered] == ["2", "\\frac{1}{2}", "3"]
    assert unfiltered[0].messages[0]["role"] == "user"


def test_math_nested_boxed(tmp_path: Path) -> None:
    task = _file_task(_write_jsonl(tmp_path / "m.jsonl", MATH), format=RecordFormat.math)
    problems = load_problems(task, "train")
    assert [p.answer for p in problems] == ["\\frac{1}{2}", "\\{1, 2\\}"]
    assert problems[0].messages == [{"role": "user", "content": f"Compute 1/2.\n\n{INSTRUCTION}"}]
    assert problems[0].meta["question"] == "Compute 1/2."


def test_drift_format(tmp_path: Path) -> None:
    records = [
        {"id": "q1", "prompt": "5 3 2 4 odd", "answer": "3"},
        {"messages": [{"role": "user", "content": "7 1 even"}], "answer": 8},
    ]
    task = _file_task(_write_jsonl(tmp_path / "d.jsonl", records), system_prompt="S")
    problems = load_problems(task, "train")
    assert [p.id for p in problems] == ["q1", "train-000001"]
    assert [p.answer for p in problems] == ["3", "8"]
    assert problems[0].messages == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "5 3 2 4 odd"},
    ]


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(METAMATH[0]) + "\n{not json\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: malformed JSON"):
        load_problems(_file_task(path), "train")


def test_non_utf8_task_files_name_file_line_and_byte_offset(tmp_path: Path) -> None:
    good = json.dumps(METAMATH[0]).encode()
    bad = json.dumps({"query": "Caf\u00e9?", "response": "The answer is: 1"}).encode()
    bad = bad.replace(b"\\u00e9", b"\xe9")  # the file was saved as Latin-1
    (tmp_path / "latin1.jsonl").write_bytes(good + b"\n" + bad + b"\n")
    offset = len(good) + 1 + bad.index(b"\xe9")
    with pytest.raises(
        DataError, match=rf"latin1\.jsonl:2: not valid UTF-8 at byte offset {offset}"
    ):
        load_problems(_file_task(tmp_path / "latin1.jsonl"), "train")
    (tmp_path / "latin1.json").write_bytes(b"[\n" + good + b",\n" + bad + b"\n]\n")
    offset = 2 + len(good) + 2 + bad.index(b"\xe9")
    with pytest.raises(
        DataError, match=rf"latin1\.json:3: not valid UTF-8 at byte offset {offset}"
    ):
        load_problems(_file_task(tmp_path / "latin1.json"), "train")


def test_rows_over_the_size_limit_are_refused_with_file_line_and_size(tmp_path: Path) -> None:
    huge = {"query": "x" * MAX_RECORD_BYTES, "response": "The answer is: 1"}
    size = len(json.dumps(huge))
    _write_jsonl(tmp_path / "big.jsonl", [METAMATH[0], huge])
    with pytest.raises(DataError, match=rf"big\.jsonl:2: row of {size} bytes .*over the limit"):
        load_problems(_file_task(tmp_path / "big.jsonl"), "train")
    (tmp_path / "big.json").write_text(json.dumps([METAMATH[0], huge]))
    with pytest.raises(DataError, match=rf"big\.json: record 1: record of {size} bytes"):
        load_problems(_file_task(tmp_path / "big.json"), "train")
    pq.write_table(pa.Table.from_pylist([METAMATH[0], huge]), tmp_path / "big.parquet")
    with pytest.raises(DataError, match=r"big\.parquet: record 1: record of \d+ bytes"):
        load_problems(_file_task(tmp_path / "big.parquet"), "train")
    # Rows within the limit load as before.
    fits = {"query": "x" * (MAX_RECORD_BYTES // 2), "response": "The answer is: 1"}
    _write_jsonl(tmp_path / "fits.jsonl", [fits])
    assert [p.answer for p in load_problems(_file_task(tmp_path / "fits.jsonl"), "train")] == ["1"]


def test_unreadable_parquet_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable parquet file"):
        load_problems(_file_task(tmp_path / "broken.parquet"), "train")


@pytest.mark.parametrize(
    ("record", "fmt", "field"),
    [
        ({"query": "q"}, RecordFormat.metamathqa, "response"),
        ({"query": "q", "response": "no marker"}, RecordFormat.metamathqa, "response"),
        ({"problem": "p", "solution": "no box"}, RecordFormat.math, "solution"),
        ({"prompt": "p"}, RecordFormat.drift, "answer"),
        ({"prompt": 3, "answer": "1"}, RecordFormat.drift, "prompt"),
        (
            {"messages": [{"role": "bot", "content": "x"}], "answer": "1"},
            RecordFormat.drift,
            "messages[0].role",
        ),
    ],
)
def test_bad_record_names_line_and_field(
    tmp_path: Path, record: dict[str, Any], fmt: RecordFormat, field: str
) -> None:
    good = {
        "query": "q",
        "response": "The answer is: 1",
        "prompt": "p",
        "answer": "1",
        "problem": "p",
        "solution": "\\boxed{1}",
    }
    path = _write_jsonl(tmp_path / "r.jsonl", [good, good, record])
    with pytest.raises(DataError, match=rf"r\.jsonl:3: .*'{re.escape(field)}'"):
        load_problems(_file_task(path, format=fmt), "train")


def test_undetectable_and_duplicate_and_empty(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "u.jsonl", [{"text": "hi"}])
    with pytest.raises(DataError, match=r"u\.jsonl:1: cannot detect"):
        load_problems(_file_task(path), "train")
    path = _write_jsonl(tmp_path / "dup.jsonl", [{"id": 1, "prompt": "a", "answer": "1"}] * 2)
    with pytest.raises(DataError, match=r"dup\.jsonl:2: field 'id' repeats"):
        load_problems(_file_task(path), "train")
    path = _write_jsonl(tmp_path / "e.jsonl", [METAMATH[1]])
    with pytest.raises(DataError, match="no problems"):
        load_problems(_file_task(path, filter_type="MATH_"), "train")
    with pytest.raises(ConfigError, match=r"task\.files\.test"):
        load_problems(_file_task(path), "test")


def test_json_and_parquet_files(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps(MATH))
    pq.write_table(pa.Table.from_pylist(METAMATH), tmp_path / "m.parquet")
    from_json = load_problems(_file_task(tmp_path / "m.json", limit=1), "train")
    assert [p.answer for p in from_json] == ["\\frac{1}{2}"]
    from_parquet = load_problems(_file_task(tmp_path / "m.parquet"), "train")
    assert [p.answer for p in from_parquet] == ["2", "\\frac{1}{2}", "3"]
    (tmp_path / "bad.json").write_text(json.dumps([MATH[0], {"problem": "p"}]))
    with pytest.raises(DataError, match=r"bad\.json: record 1: missing field 'solution'"):
        load_problems(_file_task(tmp_path / "bad.json", format=RecordFormat.math), "train")


def test_csv_files(tmp_path: Path) -> None:
    rows = 'problem,solution\n"What is 1, plus 1?","So \\boxed{2}."\nq2,\\boxed{3}\n'
    (tmp_path / "m.csv").write_text(rows)
    problems = load_problems(_file_task(tmp_path / "m.csv"), "train")
    assert [(p.meta["question"], p.answer) for p in problems] == [
        ("What is 1, plus 1?", "2"),
        ("q2", "3"),
    ]
    (tmp_path / "m.tsv").write_text(rows)
    with pytest.raises(DataError, match=r"m\.tsv: unsupported file type \(use .*\.csv\)"):
        load_problems(_file_task(tmp_path / "m.tsv"), "train")


def test_hf_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls = []

    def fake_load(name: str, config: str | None, split: str) -> datasets.Dataset:
        calls.append((name, config, split))
        return datasets.Dataset.from_list(METAMATH)

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    task = TaskConfig(
        name=TaskSource.hf_dataset,
        dataset="meta-math/MetaMathQA",
        splits={"test": "train"},
        filter_type="MATH_",
    )
    problems = load_problems(task, "test")
    assert calls == [("meta-math/MetaMathQA", None, "train")]
    assert [p.answer for p in problems] == ["2", "3"]
    assert problems[0].meta["source"] == "meta-math/MetaMathQA[train]: record 0"


def test_sample_seed_draws_the_prompts_datasets_shuffle_draws(tmp_path: Path) -> None:
    from datasets import Dataset

    records = [
        {"query": f"q{i}", "response": f"The answer is: {i}", "type": t}
        for i, t in enumerate(["MATH_AnsAug", "GSM_SV"] * 12)
    ]
    path = _write_jsonl(tmp_path / "m.jsonl", records)
    task = _file_task(path, format=RecordFormat.metamathqa, filter_type="MATH_", limit=5)
    assert [p.answer for p in load_problems(task, "train")] == ["0", "2", "4", "6", "8"]
    # the DRIFT authors: filter on the type, shuffle(seed=42), the first --max_prompts
    theirs = Dataset.from_list(records).filter(lambda r: r["type"].startswith("MATH_"))
    want = [r["response"].rsplit(" ", 1)[-1] for r in theirs.shuffle(seed=42).select(range(5))]
    sampled = load_problems(TaskConfig(**{**task.__dict__, "sample_seed": 42}), "train")
    assert [p.answer for p in sampled] == want != ["0", "2", "4", "6", "8"]


@pytest.mark.parametrize(
    ("table", "fmt", "error"),
    [
        (
            pa.Table.from_pylist([METAMATH[0], {**METAMATH[1], "query": None}]),
            "auto",
            r"record 1: field 'query' has type NoneType",
        ),
        (  # a row without the field: parquet stores a null in its column
            pa.Table.from_pylist([{"prompt": "a", "answer": "1"}, {"prompt": "b"}]),
            "auto",
            r"record 1: field 'answer' has type NoneType",
        ),
        (
            pa.table({"prompt": ["a", "b"], "answer": [[1], [2]]}),
            "auto",
            r"record 0: field 'answer' has type list",
        ),
        (pa.table({"prompt": ["a"]}), "drift", r"record 0: missing field 'answer'"),
    ],
)
def test_bad_parquet_rows_name_the_file_record_index_and_field(
    tmp_path: Path, table: pa.Table, fmt: str, error: str
) -> None:
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=rf"bad\.parquet: {error}"):
        load_problems(_file_task(tmp_path / "bad.parquet", format=fmt), "train")
