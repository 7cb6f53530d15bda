import json

import numpy as np
import pytest
from matplotlib.image import imread
from run_factory import write_cost_sweep, write_run, write_sweep

from drift.evaluation.aggregate import collect_runs, summarise
from drift.evaluation.plots import (
    acc_at_k_figure,
    bar_figure,
    cost_figure,
    figure_png,
    scores_figure,
    write_plots,
)


@pytest.fixture
def scored_sweep(tmp_path):
    """The sweep with AUROC/Spearman and a scores.jsonl for drift_iw in every run."""
    sweep = write_sweep(tmp_path / "scored", with_auroc=True)
    rng = np.random.default_rng(0)
    for run_dir in sorted(sweep.glob("*_*")):
        corrupted = rng.random(300) < 0.2
        norm = rng.lognormal(0.0, 0.5, size=300)
        score = np.where(corrupted, -1.0, 1.0) * norm + rng.normal(0, 0.3, size=300)
        lines = [
            json.dumps({"id": f"t-{i}", "score": s, "grad_norm": g, "corrupted": bool(c)})
            for i, (s, g, c) in enumerate(zip(score, norm, corrupted, strict=True))
        ]
        (run_dir / "drift_iw" / "scores.jsonl").write_text("\n".join(lines) + "\n")
    return sweep


def test_acc_curves_plot_the_means_with_std_bars(sweep_dir):
    rows = summarise(collect_runs(sweep_dir))
    fig = acc_at_k_figure(rows)
    greedy, sampled = fig.axes
    assert greedy.get_title() == "acc@k (greedy)" and sampled.get_title() == "acc@k (sampled)"
    assert len(greedy.containers) == len(rows) == 4
    line, _, (bars,) = greedy.containers[2]  # drift_iw [method.beta=0.05]
    np.testing.assert_allclose(line.get_ydata().astype(float), [0.4, 0.5, 0.6, 0.7, 0.8])
    segments = bars.get_segments()  # one vertical segment per k: mean - std .. mean + std
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], [0.4] * 5, atol=1e-9)
    np.testing.assert_allclose(
        sampled.containers[2][0].get_ydata().astype(float), [0.2, 0.25, 0.3, 0.35, 0.4]
    )
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[2] == "drift_iw [method.beta=0.05] (n=3)"


def test_bar_chart_only_when_auroc_is_reported(sweep_dir, scored_sweep):
    assert bar_figure(summarise(collect_runs(sweep_dir))) is None
    rows = summarise(collect_runs(scored_sweep))
    fig = bar_figure(rows)
    auroc_ax, spearman_ax = fig.axes
    assert auroc_ax.get_title() == "auroc" and spearman_ax.get_title() == "norm_spearman"
    heights = [p.get_height() for p in auroc_ax.patches]
    np.testing.assert_allclose(heights, [0.7, 0.7])  # drift_iw rows only: seeds 0.6, 0.7, 0.8
    ticks = [t.get_text() for t in auroc_ax.get_xticklabels()]
    assert ticks == ["drift_iw [method.beta=0.05]\n(n=3)", "drift_iw [method.beta=0.1]\n(n=3)"]


def test_scores_scatter_one_panel_per_group_with_all_seeds(scored_sweep):
    runs = collect_runs(scored_sweep)
    fig = scores_figure(runs, max_points=500)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [
        "drift_iw [method.beta=0.05]",
        "drift_iw [method.beta=0.1]",
    ]
    clean, corrupted = visible[0].collections
    assert len(clean.get_offsets()) + len(corrupted.get_offsets()) == 500  # of 3 x 300
    assert 0.1 < len(corrupted.get_offsets()) / 500 < 0.3
    assert np.all(clean.get_offsets()[:, 0] > 0)  # x is the gradient norm


def test_write_plots_makes_readable_pngs(scored_sweep, tmp_path):
    runs = collect_runs(scored_sweep)
    paths = write_plots(summarise(runs), runs, tmp_path / "plots")
    names = [p.name for p in paths]
    assert names == ["acc_at_k.png", "ranking.png", "scores_vs_grad_norm.png"]
    for path in paths:
        image = imread(path)
        assert image.shape[0] > 300 and image.shape[1] > 400
        assert path.stat().st_size > 20_000
        assert image[..., :3].std() > 0.05  # not a blank canvas


def test_nothing_to_draw_gives_no_files(tmp_path):
    write_run(tmp_path / "r", {"m": {"mean_turns": 2.0}})
    runs = collect_runs(tmp_path)
    assert write_plots(summarise(runs), runs, tmp_path / "plots") == []


def test_figure_png_for_notebooks(sweep_dir):
    runs = collect_runs(sweep_dir)
    assert scores_figure(runs) is None
    png = figure_png(acc_at_k_figure(summarise(runs)))
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_cost_plot_puts_each_method_at_its_generated_tokens(tmp_path, sweep_dir):
    assert cost_figure(summarise(collect_runs(sweep_dir))) is None  # no costs reported
    rows = summarise(collect_runs(write_cost_sweep(tmp_path)))
    greedy, sampled = cost_figure(rows).axes
    assert "greedy" in greedy.get_title() and "sampled" in sampled.get_title()
    assert sampled.get_xscale() == "log"
    # drift_iw, rft and grpo: an acc@1 and an acc@5 point each; the reference is two lines
    assert len(sampled.containers) == 6
    line, _, (x_bars, y_bars) = sampled.containers[5]  # grpo acc@5
    np.testing.assert_allclose(line.get_xydata().astype(float), [[2_001_000, 0.72]])
    (x_bar,) = x_bars.get_segments()  # tokens: mean ± std 1,000
    np.testing.assert_allclose(x_bar[:, 0], [2_000_000, 2_002_000])
    (y_bar,) = y_bars.get_segments()
    assert y_bar[1, 1] - y_bar[0, 1] == pytest.approx(2 * 0.034641, abs=1e-5)
    # drift_iw and rft share a token count: spread sideways around it
    x_iw, x_rft = (float(c.lines[0].get_xdata()[0]) for c in sampled.containers[1:4:2])
    assert x_iw < 500_000 < x_rft and x_iw * x_rft == pytest.approx(500_000**2)
    levels = [line.get_ydata()[0] for line in sampled.get_lines() if line.get_linestyle() == "--"]
    assert levels == pytest.approx([0.1, 0.5])  # the reference's acc@1 and acc@5
    assert [t.get_text() for t in sampled.texts] == ["reference acc@1", "reference acc@5"]


def test_cost_plot_is_written_with_the_others(tmp_path):
    runs = collect_runs(write_cost_sweep(tmp_path))
    paths = write_plots(summarise(runs), runs, tmp_path / "plots")
    assert [p.name for p in paths] == ["acc_at_k.png", "acc_vs_tokens.png"]
    image = imread(paths[1])
    assert image.shape[0] > 300 and image[..., :3].std() > 0.05
