"""eval.suite, eval.suite_benchmarks and eval.benchmarks.<name>: defaults, overrides and the
errors that name a missing file before anything loads."""

from pathlib import Path

import pytest
from config_refusal import refused

from drift.config import BENCHMARK_DIR, load_config
from drift.enums import Benchmark, EvalSuite

FIXTURES = Path(__file__).parents[1] / "evaluation" / "drift_paper" / "fixtures"


def test_off_by_default_with_the_papers_settings(compose_cfg) -> None:
    cfg = load_config(compose_cfg([]))
    assert cfg.eval.suite is None  # nothing is checked: data/drift_paper need not exist
    assert cfg.eval.suite_benchmarks == [b.value for b in Benchmark]
    assert cfg.eval.benchmarks["gpqa"].path == f"{BENCHMARK_DIR}/gpqa"
    assert (cfg.eval.suite_max_turns, cfg.eval.suite_max_new_tokens) == (5, 1024)


def test_a_subset_pointed_at_local_files(compose_cfg) -> None:
    cfg = load_config(
        compose_cfg(
            [
                "eval.suite=drift_paper",
                "eval.suite_benchmarks=[math500,gpqa]",
                f"eval.benchmarks.math500.path={FIXTURES / 'math500.jsonl'}",
                f"eval.benchmarks.gpqa.path={FIXTURES / 'gpqa.csv'}",
                "eval.benchmarks.gpqa.limit=1",
            ]
        )
    )
    assert cfg.eval.suite == EvalSuite.drift_paper
    assert cfg.eval.benchmarks["gpqa"].limit == 1


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (
            ["eval.benchmarks.math500.path=/nowhere/math500.jsonl"],
            r"eval\.benchmarks\.math500\.path: no \.jsonl, .* file at /nowhere/math500\.jsonl",
        ),
        (["eval.suite_benchmarks=[math5000]"], r"eval\.suite_benchmarks: unknown \['math5000'\]"),
        (["eval.suite_benchmarks=[]"], r"eval\.suite_benchmarks is empty"),
        (["eval.benchmarks.math500.limit=0"], r"eval\.benchmarks\.math500\.limit"),
        (["+eval.benchmarks.aime.path=x"], r"aime"),  # Hydra: not a key of the schema
        (["eval.suite=paper"], r"eval\.suite"),
    ],
)
def test_refusals(compose_cfg, overrides: list[str], match: str) -> None:
    fixture = f"eval.benchmarks.math500.path={FIXTURES / 'math500.jsonl'}"
    base = ["eval.suite=drift_paper", "eval.suite_benchmarks=[math500]", fixture]
    with refused(match):
        load_config(compose_cfg([*base, *overrides]))
