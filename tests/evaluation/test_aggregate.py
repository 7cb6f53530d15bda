import io
import logging
import math

import pytest
from rich.console import Console
from run_factory import write_cost_sweep, write_run

from drift.evaluation.aggregate import (
    COST_COLUMNS,
    SummaryRow,
    collect_runs,
    common_overrides,
    cost_columns,
    cost_markdown,
    format_cell,
    main,
    read_summary_csv,
    select_columns,
    summarise,
    summary_markdown,
    write_summary_csv,
)
from drift.evaluation.report import markdown_table, print_results, print_table, results_markdown
from drift.evaluation.runs import RunRecord
from drift.utils.io import DataError


def _rows_by_label(rows: list[SummaryRow]) -> dict[str, SummaryRow]:
    return {r.label: r for r in rows}


def test_seeds_are_aggregated_and_betas_kept_apart(sweep_dir):
    runs = collect_runs(sweep_dir)
    assert len(runs) == 12  # 6 jobs x (reference, drift_iw)
    assert common_overrides(runs) == ["debug=fast"]
    rows = summarise(runs)
    assert [r.label for r in rows] == [
        "reference [method.beta=0.05]",
        "reference [method.beta=0.1]",
        "drift_iw [method.beta=0.05]",
        "drift_iw [method.beta=0.1]",
    ]
    by_label = _rows_by_label(rows)
    low, high = by_label["drift_iw [method.beta=0.05]"], by_label["drift_iw [method.beta=0.1]"]
    assert (low.n, low.seeds, high.n, high.seeds) == (3, (0, 1, 2), 3, (0, 1, 2))
    assert low.mean["acc@1"] == pytest.approx(0.4) and low.std["acc@1"] == pytest.approx(0.2)
    assert high.mean["acc@1"] == pytest.approx(0.6)
    assert high.std["acc@1"] == pytest.approx(math.sqrt(((0.1**2) * 2 + 0.2**2) / 2))
    assert low.mean["acc@3"] == pytest.approx(0.6)  # acc@k rises by 0.1 per turn
    assert low.mean["final_loss"] == pytest.approx(1.5)  # from drift_iw/metrics.json


def test_one_run_has_no_std_and_prints_plain_means():
    rows = summarise([RunRecord("a", {"acc@1": 0.25, "x": 1.0})])
    assert rows == [SummaryRow("a", "", 1, (), {"acc@1": 0.25, "x": 1.0}, rows[0].std)]
    assert math.isnan(rows[0].std["acc@1"])
    assert format_cell(rows[0], "acc@1") == "0.250" and format_cell(rows[0], "zzz") == "-"


def test_metric_missing_in_some_seeds_is_averaged_over_the_others():
    runs = [RunRecord("m", {"acc@1": 0.2, "auroc": 0.9}, seed=0), RunRecord("m", {"acc@1": 0.4})]
    (row,) = summarise(runs)
    assert row.n == 2 and row.mean == pytest.approx({"acc@1": 0.3, "auroc": 0.9})
    assert math.isnan(row.std["auroc"])


def test_repeated_seeds_are_warned_about(caplog):
    runs = [RunRecord("m", {"acc@1": 0.2}, seed=0), RunRecord("m", {"acc@1": 0.4}, seed=0)]
    with caplog.at_level(logging.WARNING):
        summarise(runs)
    assert "repeated seeds [0, 0]" in caplog.text


def test_markdown_table_has_config_n_and_mean_pm_std(sweep_dir):
    rows = summarise(collect_runs(sweep_dir))
    text = summary_markdown(rows, ["acc@1", "auroc", "acc@2"])
    lines = text.splitlines()
    assert lines[0] == "| method | config | n | acc@1 | acc@2 |"  # auroc absent everywhere
    assert lines[1] == "|---|---|---|---|---|"
    assert lines[4] == "| drift_iw | method.beta=0.05 | 3 | 0.400 ± 0.200 | 0.500 ± 0.200 |"
    assert select_columns(rows, None)[:3] == ["acc@1", "acc@2", "acc@3"]


def test_demo_table_comes_from_summarise_and_keeps_its_format():
    methods = {"reference": {"acc@1": 0.1, "acc@2": 0.25}, "rft": {"acc@1": 0.5}}
    assert markdown_table(methods, ("acc@1", "acc@2", "repeat_rate")) == "\n".join(
        [
            "| method | acc@1 | acc@2 |",
            "|---|---|---|",
            "| reference | 0.100 | 0.250 |",
            "| rft | 0.500 | - |",
        ]
    )
    out = io.StringIO()
    print_table(methods, title="demo", console=Console(file=out, width=120))
    text = out.getvalue()
    assert "demo" in text and "0.250" in text and "±" not in text and "config" not in text


def test_summary_csv_round_trip(sweep_dir, tmp_path):
    rows = summarise(collect_runs(sweep_dir))
    rows.append(SummaryRow("lone", "", 1, (), {"acc@1": 0.1 + 0.2}, {"acc@1": math.nan}))
    path = tmp_path / "summary.csv"
    write_summary_csv(rows, path)
    back = read_summary_csv(path)
    assert [(r.method, r.config, r.n, r.seeds) for r in back] == [
        (r.method, r.config, r.n, r.seeds) for r in rows
    ]
    for before, after in zip(rows, back, strict=True):
        assert after.mean == before.mean  # exact: floats are written with repr
        assert after.std.keys() == before.std.keys()
        for key, std in before.std.items():
            assert (math.isnan(std) and math.isnan(after.std[key])) or after.std[key] == std
    assert "lone" not in path.read_text().splitlines()[0]
    assert path.read_text().splitlines()[0].startswith("method,config,n,seeds,acc@1_mean,acc@1_std")
    path.write_bytes(path.read_bytes() + b"caf\xe9,,1,,0.5,0.1\n")
    with pytest.raises(DataError, match=rf"summary\.csv:{len(back) + 2}: not valid UTF-8"):
        read_summary_csv(path)


def test_report_command_writes_tables_and_plots(sweep_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main([str(sweep_dir), "--out", str(out), "--columns", "acc@1,final_loss"]) == 0
    printed = capsys.readouterr().out
    assert "| method | config | n | acc@1 | final_loss |" in printed
    assert "12 records from 6 runs" in printed
    names = sorted(p.name for p in out.iterdir())
    assert names == ["acc_at_k.png", "runs.csv", "summary.csv", "summary.md"]
    md = (out / "summary.md").read_text()
    assert md.startswith("Overrides shared by every run: debug=fast\n")
    assert "| drift_iw | method.beta=0.1 | 3 | 0.600 ± 0.173 | 1.500 ± 1.000 |" in md
    runs_csv = (out / "runs.csv").read_text().splitlines()
    assert len(runs_csv) == 13 and runs_csv[0].startswith("method,config,seed,run_dir,acc@1")


def test_report_command_defaults_to_dir_report_and_reports_errors(sweep_dir, tmp_path, capsys):
    assert main([str(sweep_dir)]) == 0
    assert (sweep_dir / "report" / "summary.csv").exists()
    assert main([str(sweep_dir)]) == 0  # the report directory is not mistaken for a run
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_report_of_a_single_run_without_hydra(tmp_path):
    write_run(tmp_path / "run", {"reference": {"acc@1": 0.3}, "rft": {"acc@1": 0.6}})
    assert main([str(tmp_path / "run"), "--columns", "all"]) == 0
    rows = read_summary_csv(tmp_path / "run" / "report" / "summary.csv")
    assert [(r.method, r.n, r.mean["acc@1"]) for r in rows] == [
        ("reference", 1, 0.3),
        ("rft", 1, 0.6),
    ]


def test_cost_table_puts_tokens_seconds_and_steps_beside_accuracy(tmp_path, sweep_dir):
    rows = summarise(collect_runs(write_cost_sweep(tmp_path)))
    acc = ["acc@1", "acc@5", "correction_rate"]
    assert cost_columns(rows) == [*acc, *(f"sampled/{c}" for c in acc), *COST_COLUMNS]
    caption, table = cost_markdown(rows).split("\n\n")
    assert "counts in full for each" in caption and "Not counted" in caption
    lines = table.splitlines()
    assert lines[0].endswith("| generated tokens | wall s | optimizer steps |")
    assert lines[2].startswith("| reference | 3 |")
    assert lines[2].endswith("| 0 ± 0 | 0 ± 0 | 0 ± 0 |")
    assert lines[5] == (
        "| grpo | 3 | 0.200 ± 0.000 | 0.600 ± 0.000 | 0.300 ± 0.000 | 0.100 ± 0.000 "
        "| 0.720 ± 0.035 | 0.200 ± 0.000 | 2,001,000 ± 1,000 | 300 ± 0 | 600 ± 0 |"
    )
    no_cost = summarise(collect_runs(sweep_dir))
    assert cost_columns(no_cost) == [] and cost_markdown(no_cost) is None


def test_report_command_adds_the_cost_table_and_plot(tmp_path, capsys):
    sweep = write_cost_sweep(tmp_path)
    assert main([str(sweep)]) == 0
    printed = capsys.readouterr().out
    assert "| method | n | acc@1 | acc@2 |" in printed  # the main table first
    assert "| 2,001,000 ± 1,000 | 300 ± 0 | 600 ± 0 |" in printed
    md = (sweep / "report" / "summary.md").read_text()
    assert "Accuracy against training cost" in md and "| 500,000 ± 0 | 100 ± 0 | 75 ± 0 |" in md
    assert (sweep / "report" / "acc_vs_tokens.png").exists()


def test_run_tables_show_costs_when_methods_report_them():
    cost = {"cost/generated_tokens": 1234.0, "cost/wall_seconds": 5.5, "cost/optimizer_steps": 3}
    methods = {"reference": {"acc@1": 0.1, "acc@5": 0.3}, "rft": {"acc@1": 0.2, **cost}}
    text = results_markdown(methods)
    assert text.startswith(markdown_table(methods))
    assert "| rft | 0.200 | - | 1,234 | 6 | 3 |" in text
    out = io.StringIO()
    print_results(methods, title="demo", console=Console(file=out, width=200))
    printed = out.getvalue()
    assert "demo: cost" in printed and "1,234" in printed and "generated tokens" in printed
    assert "cost" not in results_markdown({"reference": {"acc@1": 0.1}})
