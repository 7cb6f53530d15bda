import dataclasses
import errno
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from drift.errors import ConfigError
from drift.rollout.store import (
    TrajectoryFile,
    collect_rollouts,
    read_trajectories,
    write_trajectories,
)
from drift.types import Problem, Trajectory, Turn
from drift.utils.io import DataError

SAMPLES = 3


def _problems(n: int) -> list[Problem]:
    return [
        Problem(id=f"p{i:02d}", messages=[{"role": "user", "content": str(i)}], answer=str(i))
        for i in range(n)
    ]


def _sample(chunk: list[Problem]) -> list[Trajectory]:
    return [
        Trajectory(
            prompt_id=p.id,
            sample_id=s,
            prompt=p.messages,
            turns=[Turn(text=f"<answer>{s}</answer>", answer=str(s), correct=s == 0, valid=True)],
            feedback="Incorrect.",
            target=p.answer,
            ret=float(s == 0),
        )
        for p in reversed(chunk)  # out of order on purpose: the store sorts
        for s in range(SAMPLES)
    ]


class Recorder:
    def __init__(self, fail_after: int | None = None) -> None:
        self.chunks: list[list[str]] = []
        self.fail_after = fail_after

    def __call__(self, chunk: list[Problem]) -> list[Trajectory]:
        if self.fail_after is not None and len(self.chunks) == self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.chunks.append([p.id for p in chunk])
        return _sample(chunk)


def _collect(path: Path, problems: list[Problem], chunk: int, sampler, **kw) -> list[Trajectory]:  # type: ignore[no-untyped-def]
    return collect_rollouts(path, problems, chunk, sampler, "x", samples_per_prompt=SAMPLES, **kw)


def _keys(trajs: list[Trajectory]) -> list[tuple[str, int]]:
    return [(t.prompt_id, t.sample_id) for t in trajs]


def _expected(n: int) -> list[tuple[str, int]]:
    return [(f"p{i:02d}", s) for i in range(n) for s in range(SAMPLES)]


def test_fresh_run_writes_final_file(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    rec = Recorder()
    trajs = collect_rollouts(path, _problems(7), 3, rec, "rollouts", samples_per_prompt=SAMPLES)
    assert [len(c) for c in rec.chunks] == [3, 3, 1]
    assert _keys(trajs) == _expected(7)
    assert path.exists() and not (tmp_path / "rollouts.partial.jsonl").exists()
    assert read_trajectories(path) == list(trajs)


def test_existing_file_returned_without_sampling(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    write_trajectories(path, _sample(_problems(2)))

    def boom(chunk: list[Problem]) -> list[Trajectory]:
        raise AssertionError("must not sample")

    assert len(_collect(path, _problems(5), 2, boom)) == 2 * SAMPLES


@pytest.mark.parametrize("tail", ["", '{"prompt_id": "p06", "sample_id": 0, "pro', '{"prompt_\n'])
def test_resume_after_interruption(tmp_path: Path, tail: str) -> None:
    path = tmp_path / "rollouts.jsonl"
    partial = tmp_path / "rollouts.partial.jsonl"
    problems = _problems(10)
    appends: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        _collect(path, problems, 3, Recorder(fail_after=2), on_append=lambda: appends.append(1))
    assert not path.exists() and len(appends) == 2
    assert len(partial.read_text().splitlines()) == 6 * SAMPLES
    with partial.open("a") as fh:  # an append cut short mid-line
        fh.write(tail)
    rec = Recorder()
    trajs = _collect(path, problems, 3, rec)
    # the two chunks on disk are complete: sampling resumes at the third chunk's boundary
    assert rec.chunks == [["p06", "p07", "p08"], ["p09"]]
    assert _keys(trajs) == _expected(10)
    assert Counter(_keys(trajs)).most_common(1)[0][1] == 1
    assert not partial.exists()
    assert _keys(read_trajectories(path)) == _expected(10)


def test_resume_after_a_cut_at_any_byte_resamples_whole_chunks_on_fixed_boundaries(
    tmp_path: Path,
) -> None:
    problems = _problems(7)
    full = tmp_path / "full.jsonl"
    _collect(full, problems, 3, Recorder())
    data = full.read_bytes()  # the partial file of an uninterrupted run, chunk after chunk
    chunks = [["p00", "p01", "p02"], ["p03", "p04", "p05"], ["p06"]]
    ends = [data.index(b'"p03"'), data.index(b'"p06"'), len(data)]
    ends = [data.rindex(b"\n", 0, e) + 1 for e in ends[:2]] + [len(data)]
    for cut in sorted({*range(0, len(data), 97), *ends, ends[0] - 1, ends[0] + 1}):
        path = tmp_path / f"cut{cut}.jsonl"
        path.with_suffix(".partial.jsonl").write_bytes(data[:cut])
        rec = Recorder()
        _collect(path, problems, 3, rec)
        kept = sum(end <= cut for end in ends)
        assert rec.chunks == chunks[kept:], cut
        assert path.read_bytes() == data, cut


def test_a_partial_chunk_with_a_sample_missing_is_resampled(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [json.dumps(t.to_dict()) + "\n" for t in _sample(_problems(2))]
    path.with_suffix(".partial.jsonl").write_text("".join(lines[:-1]))  # cut at a line end
    rec = Recorder()
    assert _keys(_collect(path, _problems(2), 1, rec)) == _expected(2)
    assert rec.chunks == [["p00"]]  # _sample lists p01's samples first: p00 lost its last


def test_corrupt_partial_line_in_the_middle_raises(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    partial = tmp_path / "r.partial.jsonl"
    lines = [json.dumps(t.to_dict()) for t in _sample(_problems(2))]
    lines[1] = lines[1][:20]
    partial.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"r\.partial\.jsonl:2"):
        _collect(path, _problems(2), 1, Recorder())


def test_non_utf8_trajectory_files_name_file_and_line(tmp_path: Path) -> None:
    lines = [json.dumps(t.to_dict()).encode() for t in _sample(_problems(2))]
    lines[2] = lines[2].replace(b"Incorrect.", b"Incorrect\xff")
    data = b"\n".join(lines) + b"\n"
    (tmp_path / "bad.jsonl").write_bytes(data)
    with pytest.raises(DataError, match=r"bad\.jsonl:3: not valid UTF-8 at byte offset \d+"):
        read_trajectories(tmp_path / "bad.jsonl")
    (tmp_path / "r.partial.jsonl").write_bytes(data)  # an interrupted run's file, resumed
    with pytest.raises(DataError, match=r"r\.partial\.jsonl:3: not valid UTF-8"):
        _collect(tmp_path / "r.jsonl", _problems(2), 1, Recorder())


def test_stray_and_duplicate_chunk_output_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not in its chunk"):
        _collect(tmp_path / "a.jsonl", _problems(2), 1, lambda c: _sample(_problems(2)))
    with pytest.raises(ValueError, match="twice"):
        _collect(tmp_path / "b.jsonl", _problems(2), 1, lambda c: _sample(c) * 2)
    with pytest.raises(ValueError, match="missing"):
        _collect(tmp_path / "c.jsonl", _problems(2), 1, lambda c: _sample(c)[1:])


def _bad_file(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    records = [t.to_dict() for t in _sample(_problems(1))]
    edit(records[1])
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda r: r["turns"][0].update(correct="yes"), "turns[0].correct"),
        (lambda r: r.pop("prompt_id"), "prompt_id"),
        (lambda r: r["prompt"][0].pop("role"), "prompt[0].role"),
        (lambda r: r.update(ret="high"), "ret"),
        (lambda r: r.update(extra=1), "extra"),
        (lambda r: r["turns"][0].update(score=1), "turns[0].score"),
        (lambda r: r["turns"].append("text"), "turns[1]"),
    ],
)
def test_read_trajectories_names_file_line_field(tmp_path: Path, edit, field: str) -> None:  # type: ignore[no-untyped-def]
    path = _bad_file(tmp_path, edit)
    with pytest.raises(DataError) as err:
        read_trajectories(path)
    assert str(err.value).startswith(f"{path}:2:")
    assert f"'{field}'" in str(err.value)


@pytest.mark.parametrize("name", ["r.jsonl", "r.partial.jsonl"])
def test_a_rollout_file_linked_out_of_the_cache_is_refused_and_left_alone(
    tmp_path: Path, name: str
) -> None:
    outside = tmp_path / "outside.jsonl"
    outside.write_text("precious\n")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / name).symlink_to(outside)
    with pytest.raises(ConfigError, match=rf"rollout file .*cache/{name} is a symbolic link"):
        _collect(tmp_path / "cache" / "r.jsonl", _problems(2), 1, Recorder())
    assert outside.read_text() == "precious\n"


def test_an_append_on_a_full_disk_names_the_file_and_keeps_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.jsonl"
    partial = tmp_path / "r.partial.jsonl"
    with pytest.raises(KeyboardInterrupt):
        _collect(path, _problems(4), 2, Recorder(fail_after=1))
    before = partial.read_bytes()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"No space left on device: '.*r\.partial\.jsonl'"):
        _collect(path, _problems(4), 2, Recorder())
    assert partial.read_bytes() == before
    monkeypatch.undo()
    assert len(_collect(path, _problems(4), 2, Recorder())) == 4 * SAMPLES


def test_a_trajectory_file_reads_lines_lazily_and_by_index(tmp_path: Path) -> None:
    trajs = sorted(_sample(_problems(3)), key=lambda t: (t.prompt_id, t.sample_id))
    path = tmp_path / "r.jsonl"
    lines = [json.dumps(t.to_dict()) + "\n" for t in trajs]
    path.write_text("".join(lines[:4]) + "\n" + "".join(lines[4:]))  # a blank line is skipped
    file = TrajectoryFile(path)
    assert len(file) == len(trajs)
    assert list(file) == trajs
    assert file[0] == trajs[0] and file[4] == trajs[4] and file[-1] == trajs[-1]
    assert file[2:5] == trajs[2:5]
    with pytest.raises(IndexError):
        file[len(trajs)]
    path.write_text(lines[0] + '{"prompt_id": "x"}\n')
    with pytest.raises(DataError, match=rf"{path}:2: missing field"):
        TrajectoryFile(path)[1]


def test_complete_chunks_out_of_order_and_duplicated_ones_resume_in_problem_order(
    tmp_path: Path,
) -> None:
    """Chunk 2 kept before a lost chunk 1, chunk 0 holding one sample twice: chunk 0 and 1
    are resampled, chunk 2 kept, and the final file is in problem order."""
    problems = _problems(6)
    path = tmp_path / "r.jsonl"
    full = tmp_path / "full.jsonl"
    _collect(full, problems, 2, Recorder())
    lines = full.read_text().splitlines(keepends=True)  # 2 problems x 3 samples per chunk
    chunk0, chunk2 = lines[0:6], lines[12:18]
    path.with_suffix(".partial.jsonl").write_text("".join([*chunk2, *chunk0, chunk0[0]]))
    rec = Recorder()
    _collect(path, problems, 2, rec)
    assert rec.chunks == [["p00", "p01"], ["p02", "p03"]]
    assert path.read_text() == full.read_text()


def test_a_partial_file_starting_with_a_byte_order_mark_resumes_to_the_same_file(
    tmp_path: Path,
) -> None:
    problems = _problems(4)
    full = tmp_path / "full.jsonl"
    _collect(full, problems, 2, Recorder())
    lines = full.read_bytes().splitlines(keepends=True)
    path = tmp_path / "r.jsonl"
    # chunk 1 first, behind a BOM: its first line is copied after chunk 0's, without the BOM
    path.with_suffix(".partial.jsonl").write_bytes(b"\xef\xbb\xbf" + b"".join(lines[6:]))
    rec = Recorder()
    _collect(path, problems, 2, rec)
    assert rec.chunks == [["p00", "p01"]]
    assert path.read_bytes() == full.read_bytes()


@pytest.mark.parametrize("tail", ['{"prompt_id": "p0\n  ', '{"prompt_id": "p0\n\n'])
def test_an_unparsable_last_line_followed_by_blanks_counts_as_cut_short(
    tmp_path: Path, tail: str
) -> None:
    path = tmp_path / "r.jsonl"
    path.with_suffix(".partial.jsonl").write_text(tail)
    assert _keys(_collect(path, _problems(2), 1, Recorder())) == _expected(2)


def test_a_sample_id_beyond_any_integer_type_makes_its_chunk_resampled(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    records = [t.to_dict() for t in _sample(_problems(1))]
    records[0]["sample_id"] = 2**70
    path.with_suffix(".partial.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    rec = Recorder()
    assert _keys(_collect(path, _problems(1), 1, rec)) == _expected(1)
    assert rec.chunks == [["p00"]]


def test_a_trajectory_file_replaced_between_passes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    trajs = _sample(_problems(2))
    write_trajectories(path, trajs)
    file = TrajectoryFile(path)
    assert len(list(file)) == len(trajs)
    write_trajectories(path, trajs[:3])  # atomically replaced, as another run would
    with pytest.raises(DataError, match="changed while it was being read"):
        list(file)
    with pytest.raises(DataError, match="changed while it was being read"):
        file[0]


def test_episodes_with_prefill_and_varying_user_turns_round_trip(tmp_path: Path) -> None:
    """``prefill`` and ``users`` (drift_full prompt formats) are fields of a rollout file: the
    store reads them back from the partial file and from the final one."""

    def sample(chunk: list[Problem]) -> list[Trajectory]:
        return [
            dataclasses.replace(t, prefill="<think>", users=["again"] * (len(t.turns) - 1))
            for t in _sample(chunk)
        ]

    path = tmp_path / "r.jsonl"
    trajs = collect_rollouts(path, _problems(3), 2, sample, "x", samples_per_prompt=SAMPLES)
    assert all(t.prefill == "<think>" and t.users == [] for t in trajs)
    assert read_trajectories(path) == list(trajs)


def test_a_missing_rollout_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"{tmp_path / 'none.jsonl'}: file not found"):
        TrajectoryFile(tmp_path / "none.jsonl")
