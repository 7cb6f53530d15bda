"""Per-turn accuracy and its changes reach the printed table, results.md and `drift report`."""

import io

from rich.console import Console
from run_factory import write_run

from drift.evaluation.aggregate import main as report_main
from drift.evaluation.multiturn import episode_metrics
from drift.evaluation.report import markdown_table, print_results, results_markdown
from drift.types import Trajectory, Turn


def _traj(answers: list[str], target: str = "3") -> Trajectory:
    turns = [Turn(f"<answer>{a}</answer>", a, a == target, True) for a in answers]
    return Trajectory("p", 0, [{"role": "user", "content": "q"}], turns, "Check it.", target)


# docs/metrics.md's worked example (intrinsic, T = 2) and a model that never changes its answer
WORKED = [["3", "3"], ["1", "3"], ["3", "1"], ["1", "2"], ["1", "1"]]
STUBBORN = [["3", "3"], ["1", "1"], ["3", "3"], ["1", "1"], ["2", "2"]]


def _methods() -> dict[str, dict[str, float]]:
    return {
        "reference": episode_metrics([_traj(a) for a in WORKED], max_turns=2),
        "stubborn": episode_metrics([_traj(a) for a in STUBBORN], max_turns=2),
    }


def test_tables_show_per_turn_accuracy_and_its_changes():
    methods = _methods()
    table = markdown_table(methods)
    header = table.splitlines()[0]
    for label in ("acc@t1", "acc@t2", "Δ(t1,t2)", "Δi→c", "Δc→i", "acc@1", "correction_rate"):
        assert f" {label} |" in header
    assert "acc@t3" not in header and "acc@3" not in header  # a 2-turn run reports 2 turns
    cells = {
        row[0]: row[1:]
        for line in table.splitlines()[2:]
        if (row := [c.strip() for c in line.strip("|").split("|")])
    }
    #                       acc@1    acc@2    corr.    repeat   echo
    assert cells["reference"][:5] == ["0.400", "0.600", "0.333", "0.400", "0.000"]
    assert cells["stubborn"][:5] == ["0.400", "0.400", "0.000", "1.000", "0.000"]
    #                       acc@t1   acc@t2   Δ        Δi→c     Δc→i
    assert cells["reference"][5:] == ["0.400", "0.400", "0.000", "0.200", "0.200"]
    assert cells["stubborn"][5:] == ["0.400", "0.400", "0.000", "0.000", "0.000"]
    out = io.StringIO()
    print_results(methods, title="intrinsic", console=Console(file=out, width=200))
    printed = out.getvalue()
    assert all(label in printed for label in ("acc@t2", "Δ(t1,t2)", "Δi→c", "Δc→i"))


def test_delta_label_keeps_tT_when_runs_differ_in_turns():
    methods = _methods()
    methods["five_turns"] = episode_metrics([_traj(["1", "2", "4", "5", "3"])], max_turns=5)
    header = markdown_table(methods).splitlines()[0]
    assert " Δ(t1,tT) |" in header and " acc@t5 |" in header


def test_report_command_tabulates_the_turn_metrics(tmp_path, capsys):
    for seed in (0, 1):
        write_run(tmp_path / f"run{seed}", _methods(), overrides=[f"seed={seed}"], seed=seed)
    assert report_main([str(tmp_path), "--out", str(tmp_path / "report")]) == 0
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "Δ(t1,t2)" in summary and "Δc→i" in summary
    assert "| reference | 2 | 0.400 ± 0.000 |" in summary
    csv_header = (tmp_path / "report" / "summary.csv").read_text().splitlines()[0]
    assert "acc@t1_mean" in csv_header and "delta_c2i_std" in csv_header
    assert "Δ(t1,t2)" in capsys.readouterr().out


def test_all_zero_greedy_accuracy_is_said_in_both_tables():
    zero = {"reference": episode_metrics([_traj(["1", "2"])], max_turns=2)}
    out = io.StringIO()
    print_results(zero, title="debug", console=Console(file=out, width=200))
    assert "every greedy accuracy is 0" in out.getvalue()
    assert "every greedy accuracy is 0" in results_markdown(zero)
    out = io.StringIO()
    print_results(_methods(), title="demo", console=Console(file=out, width=200))
    assert "every greedy accuracy" not in out.getvalue()
    assert "every greedy accuracy" not in results_markdown(_methods())
