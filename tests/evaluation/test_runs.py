import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from run_factory import acc_metrics, write_run

from drift.evaluation.aggregate import summarise
from drift.evaluation.runs import (
    collect_runs,
    find_runs,
    latest_multirun,
    load_run,
    load_scores,
    runs_from_results,
)
from drift.utils.io import DataError


def test_find_runs_in_job_order_past_job_nine(tmp_path):
    for job in range(12):
        write_run(tmp_path / f"{job}_seed={job}", {"m": {"acc@1": 0.5}})
    assert [p.name.split("_")[0] for p in find_runs(tmp_path)] == [str(j) for j in range(12)]


def test_load_run_reads_seed_overrides_and_metrics_json(tmp_path):
    overrides = ["debug=fast", "method=drift_iw", "method.beta=0.05", "seed=2", "paths.log_dir=/x"]
    overrides += ["+logger.tags=a", "hydra.verbose=true"]
    run = write_run(
        tmp_path / "r",
        {"reference": acc_metrics(0.1), "drift_iw": {"acc@1": 0.7, "note": "x", "ok": True}},
        overrides,
        seed=2,
        extra={"drift_iw": {"acc@1": -1.0, "final_loss": 0.25, "steps": 10}},
    )
    records = load_run(run)
    assert [r.method for r in records] == ["reference", "drift_iw"]
    ref, iw = records
    assert iw.seed == 2 and iw.run_dir == run
    # seed, paths, hydra, logger and the method group choice never define a configuration
    assert iw.overrides == ref.overrides == ("debug=fast", "method.beta=0.05")
    # results.json wins over metrics.json; strings and booleans are dropped
    assert iw.metrics == {"final_loss": 0.25, "steps": 10.0, "acc@1": 0.7}
    assert ref.metrics["acc@3"] == pytest.approx(0.3) and iw.scores_path is None


def test_seed_falls_back_to_overrides_then_none(tmp_path):
    run = write_run(tmp_path / "a", {"m": {"acc@1": 0.5}}, ["seed=7"], seed=None)
    (run / ".hydra" / "config.yaml").unlink()
    assert load_run(run)[0].seed == 7
    bare = write_run(tmp_path / "b", {"m": {"acc@1": 0.5}})
    assert load_run(bare)[0].seed is None and load_run(bare)[0].overrides == ()


def test_bad_results_name_file_and_field(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(json.dumps({"wall_seconds": 1.0}))
    with pytest.raises(DataError, match=r"r/results.json: field 'methods'"):
        collect_runs(tmp_path)
    (tmp_path / "r" / "results.json").write_text("{\n  oops")
    with pytest.raises(DataError, match=r"results.json:2: malformed JSON"):
        collect_runs(tmp_path)
    (tmp_path / "r" / "results.json").write_text(json.dumps({"methods": {"m": [0.1]}}))
    with pytest.raises(DataError, match=r"field 'methods.m'"):
        collect_runs(tmp_path)


def test_non_utf8_run_files_name_file_and_line(tmp_path):
    run = write_run(tmp_path / "r", {"m": {"acc@1": 0.5}}, ["seed=1"], seed=1)
    results = (run / "results.json").read_bytes()
    for name in (".hydra/overrides.yaml", ".hydra/config.yaml", "results.json"):
        path = run / name
        path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
        with pytest.raises(DataError, match=rf"{re.escape(name)}:\d+: not valid UTF-8"):
            collect_runs(tmp_path)
        path.write_bytes(results if name == "results.json" else b"")
    (run / "m").mkdir()
    (run / "m" / "metrics.json").write_bytes(b'{"note": "\xff"}')
    with pytest.raises(DataError, match=r"metrics\.json:1: not valid UTF-8 at byte offset 10"):
        collect_runs(tmp_path)


def test_collect_runs_refuses_an_empty_or_missing_directory(tmp_path):
    with pytest.raises(DataError, match=r"no results\.json"):
        collect_runs(tmp_path)
    with pytest.raises(DataError, match="not a directory"):
        collect_runs(tmp_path / "missing")


def test_latest_multirun_by_stamp(tmp_path):
    for stamp in ("2025-01-02_10-00-00_b", "2025-01-10_09-00-00_a", "2024-12-31_23-59-59_z"):
        (tmp_path / "multiruns" / stamp).mkdir(parents=True)
    assert latest_multirun(tmp_path).name == "2025-01-10_09-00-00_a"
    with pytest.raises(DataError, match="no multirun"):
        latest_multirun(tmp_path / "elsewhere")


def test_runs_from_results_keeps_method_order():
    records = runs_from_results({"b": {"acc@1": 0.1}, "a": {"acc@1": 0.2, "x": "s"}})
    assert [(r.method, r.metrics) for r in records] == [
        ("b", {"acc@1": 0.1}),
        ("a", {"acc@1": 0.2}),
    ]


def test_score_files_parquet_and_jsonl(tmp_path):
    run = write_run(tmp_path / "r", {"p": {"acc@1": 0.5}, "j": {"acc@1": 0.5}})
    (run / "p").mkdir()
    (run / "j").mkdir()
    table = {"id": ["a", "b"], "score": [0.5, -1.0], "grad_norm": [1.0, 3], "corrupted": [0, 1]}
    pq.write_table(pa.table(table), run / "p" / "scores.parquet")
    lines = [
        {"id": "a", "score": 2, "grad_norm": 0.5, "corrupted": False},
        {"id": "b", "score": 1.5, "grad_norm": 4.0, "corrupted": True},
    ]
    (run / "j" / "scores.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    paths = {r.method: r.scores_path for r in load_run(run)}
    parquet, jsonl = load_scores(paths["p"]), load_scores(paths["j"])
    np.testing.assert_array_equal(parquet["score"], [0.5, -1.0])
    np.testing.assert_array_equal(parquet["corrupted"], [False, True])
    np.testing.assert_array_equal(jsonl["grad_norm"], [0.5, 4.0])
    assert jsonl["corrupted"].dtype == bool and jsonl["score"].dtype == np.float64


def test_score_files_missing_a_field_are_refused(tmp_path):
    path = tmp_path / "scores.jsonl"
    path.write_text(json.dumps({"id": "a", "score": 1.0, "corrupted": False}) + "\n")
    with pytest.raises(DataError, match=r"scores.jsonl:1: missing field 'grad_norm'"):
        load_scores(path)
    pq.write_table(pa.table({"score": [1.0], "grad_norm": [1.0]}), tmp_path / "s.parquet")
    with pytest.raises(DataError, match=r"s.parquet: missing column 'corrupted'"):
        load_scores(tmp_path / "s.parquet")


def test_grpo_without_a_kl_term_is_labelled_kl_0(tmp_path):
    grpo = {"name": "grpo", "family": "grpo", "grpo": {"beta": 0.0, "steps": 2000}}
    config = {"seed": 1, "compare": {"rft": {"name": "rft", "family": "iw"}, "grpo": grpo}}
    with_kl = {**grpo, "grpo": {"beta": 0.04, "steps": 2000}}
    for run, methods in (("kl0", config["compare"]), ("kl", {"grpo": with_kl})):
        write_run(tmp_path / run, {m: acc_metrics(0.3) for m in methods}, ["seed=1"], seed=1)
        (tmp_path / run / ".hydra" / "config.yaml").write_text(
            yaml.safe_dump({**config, "compare": methods})
        )
    records = load_run(tmp_path / "kl0") + load_run(tmp_path / "kl")
    assert [(r.method, r.overrides) for r in records] == [
        ("rft", ()),
        ("grpo", ("KL 0",)),
        ("grpo", ()),
    ]
    assert [row.label for row in summarise(records)] == ["rft", "grpo [KL 0]", "grpo"]
