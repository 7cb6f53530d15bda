"""Reading user text files: invalid UTF-8 and over-long rows are DataErrors naming file, line,
byte offset and size; an over-long row is never held whole in memory."""

import errno
import json
import os
import tracemalloc
from pathlib import Path

import pytest

from drift.errors import ConfigError
from drift.utils.io import (
    DataError,
    data_files,
    read_jsonl,
    read_lines,
    read_text,
    refuse_outside_link,
    write_json,
)


def test_invalid_utf8_in_jsonl_names_file_line_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    first = json.dumps({"a": 1}).encode() + b"\n"
    path.write_bytes(first + b'{"b": "caf\xe9"}\n')
    offset = len(first) + len(b'{"b": "caf')
    with pytest.raises(
        DataError, match=rf"latin1\.jsonl:2: not valid UTF-8 at byte offset {offset}"
    ):
        list(read_jsonl(path))


def test_invalid_utf8_in_a_whole_file_read_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    head = b'[\n  {"a": 1},\n  {"b": "'
    path.write_bytes(head + b'\xff"}\n]\n')
    with pytest.raises(DataError, match=rf"t\.json:3: not valid UTF-8 at byte offset {len(head)}"):
        read_text(path)


def test_a_byte_order_mark_is_dropped_and_offsets_count_it(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')
    assert [r for _, r in read_jsonl(path)] == [{"a": 1}, {"a": 2}]
    assert read_text(path).startswith('{"a": 1}')
    head = b'\xef\xbb\xbf{"a": "'  # the mark's 3 bytes count
    path.write_bytes(head + b'\x80"}\n')
    with pytest.raises(
        DataError, match=rf"bom\.jsonl:1: not valid UTF-8 at byte offset {len(head)}"
    ):
        read_text(path)


def test_a_row_over_the_limit_names_file_line_and_size(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [{"q": "x" * 10}, {"q": "y" * 200}, {"q": "z"}]
    lines = [json.dumps(r).encode() for r in rows]
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    limit = len(lines[1]) - 1
    with pytest.raises(DataError, match=rf"rows\.jsonl:2: row of {len(lines[1])} bytes"):
        list(read_jsonl(path, max_line_bytes=limit))
    # Exactly at the limit (the line ending does not count): read as usual.
    assert [r for _, r in read_jsonl(path, max_line_bytes=limit + 1)] == rows


def test_a_huge_row_is_measured_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    size = 8 << 20  # 8 MiB on one line, no newline at the end
    with path.open("wb") as fh:
        fh.write(b'{"q": "ok"}\n{"q": "')
        fh.write(b"x" * (size - len(b'{"q": "') - 2))
        fh.write(b'"}')
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=rf"huge\.jsonl:2: row of {size} bytes .* 1024 bytes"):
            list(read_lines(path, max_line_bytes=1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 16, f"peak {peak} bytes while measuring a {size}-byte row"


def test_data_files_of_a_file_a_directory_and_a_glob(tmp_path: Path) -> None:
    for name in ("b/test-0.parquet", "a/test-0.parquet", "a/train-0.parquet", "a/notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    a, b = tmp_path / "a", tmp_path / "b"
    assert data_files(str(b / "test-0.parquet")) == [b / "test-0.parquet"]
    assert data_files(str(tmp_path)) == [
        a / "test-0.parquet",
        a / "train-0.parquet",
        b / "test-0.parquet",
    ]
    assert data_files(str(tmp_path / "*" / "test-*.parquet")) == [
        a / "test-0.parquet",
        b / "test-0.parquet",
    ]
    assert data_files(str(tmp_path / "missing")) == []
    assert data_files(str(tmp_path / "a" / "notes.txt")) == [tmp_path / "a" / "notes.txt"]


def test_atomic_write_replaces_a_symlink_and_leaves_its_target_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("precious\n")
    (tmp_path / "cache").mkdir()
    link = tmp_path / "cache" / "entry.json"
    link.symlink_to(outside)
    write_json(link, {"a": 1})
    assert outside.read_text() == "precious\n"
    assert not link.is_symlink() and json.loads(link.read_text()) == {"a": 1}


def test_a_link_out_of_its_directory_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "outside").write_text("x")
    (tmp_path / "cache" / "inside").write_text("x")
    (tmp_path / "cache" / "in.jsonl").symlink_to(tmp_path / "cache" / "inside")
    refuse_outside_link(tmp_path / "cache" / "in.jsonl", "rollout file")  # stays in the cache
    (tmp_path / "cache" / "out.jsonl").symlink_to(tmp_path / "outside")
    with pytest.raises(ConfigError, match=r"rollout file .*cache/out\.jsonl is a symbolic link"):
        refuse_outside_link(tmp_path / "cache" / "out.jsonl", "rollout file")


def test_atomic_write_on_a_full_disk_names_the_file_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*m\.json'"):
        write_json(tmp_path / "m.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []
