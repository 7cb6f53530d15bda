"""The six benchmarks from local files: rows in the DRIFT authors' order, dropped rows, limits,
instructions, and clear errors."""

import random
from pathlib import Path

import numpy as np
import pytest

from drift.config import BenchmarkConfig
from drift.enums import Benchmark
from drift.evaluation.drift_paper.answers import choice_rule, exact_rule, numeric_rule
from drift.evaluation.drift_paper.benchmarks import (
    CHOICE_AD_INSTRUCTION,
    CHOICE_AJ_INSTRUCTION,
    MATH_INSTRUCTION,
    SPECS,
    load_benchmark,
)
from drift.utils.io import DataError

FIXTURES = Path(__file__).parent / "fixtures"
PATHS = {
    Benchmark.math500: "math500.jsonl",
    Benchmark.theoremqa: "theoremqa.jsonl",
    Benchmark.gpqa: "gpqa.csv",
    Benchmark.mmlu_redux: "mmlu_redux",
    Benchmark.hendrycks_math: "hendrycks_math",
    Benchmark.mmlu_pro: "mmlu_pro.parquet",
}


def _load(name: Benchmark, limit: int | None = None) -> list:
    return load_benchmark(name, BenchmarkConfig(str(FIXTURES / PATHS[name]), limit))


def test_the_reference_instructions_and_rules() -> None:
    assert MATH_INSTRUCTION == (
        "You are solving Math problems. Only give the final answer between <answer> and </answer>."
    )
    assert CHOICE_AD_INSTRUCTION == (
        "You are solving multiple-choice questions. Only give the final answer letter (A-D) "
        "between <answer> and </answer>."
    )
    assert "(A-J)" in CHOICE_AJ_INSTRUCTION
    instructions = {b: s.instruction for b, s in SPECS.items()}
    assert instructions[Benchmark.mmlu_pro] == CHOICE_AJ_INSTRUCTION
    assert instructions[Benchmark.gpqa] == instructions[Benchmark.mmlu_redux]
    assert instructions[Benchmark.theoremqa] == instructions[Benchmark.hendrycks_math]
    rules = {b: s.verifier for b, s in SPECS.items()}
    assert rules[Benchmark.math500] is exact_rule and rules[Benchmark.hendrycks_math] is exact_rule
    assert rules[Benchmark.theoremqa] is numeric_rule
    assert {rules[b] for b in (Benchmark.gpqa, Benchmark.mmlu_redux, Benchmark.mmlu_pro)} == {
        choice_rule
    }
    assert list(SPECS) == list(Benchmark)


def test_every_fixture_loads_with_its_instruction() -> None:
    sizes = {name: len(_load(name)) for name in Benchmark}
    # math500 drops its blank question, gpqa its row without an answer
    assert sizes == {
        Benchmark.math500: 3,
        Benchmark.theoremqa: 3,
        Benchmark.gpqa: 2,
        Benchmark.mmlu_redux: 3,
        Benchmark.hendrycks_math: 3,
        Benchmark.mmlu_pro: 2,
    }
    for name in Benchmark:
        problems = _load(name)
        assert len({p.id for p in problems}) == len(problems)
        for p in problems:
            question = p.meta["question"]
            assert p.messages == [
                {"role": "user", "content": f"{question}\n\n{SPECS[name].instruction}"}
            ]
            assert p.meta["benchmark"] == name.value and str(FIXTURES) in p.meta["source"]


def test_one_dataset_is_permuted_as_datasets_shuffle_does() -> None:
    # Dataset.shuffle(seed=42) is NumPy's default_rng(42).permutation; the blank row (index 3)
    # is dropped after the permutation
    order = [int(i) for i in np.random.default_rng(42).permutation(4) if i != 3]
    assert [p.id for p in _load(Benchmark.math500)] == [f"math500-{i:05d}" for i in order]
    assert [p.id for p in _load(Benchmark.math500, limit=2)] == [
        f"math500-{i:05d}" for i in order[:2]
    ]


def test_subsets_are_read_in_path_order_then_shuffled_by_random() -> None:
    problems = _load(Benchmark.mmlu_redux)
    ids = [f"mmlu_redux-{i:05d}" for i in range(3)]  # anatomy 0, 1, then virology 2
    random.Random(42).shuffle(ids)
    assert [p.id for p in problems] == ids
    by_id = {p.id: p for p in problems}
    assert by_id["mmlu_redux-00002"].meta["question"].startswith("Which is a virus?")
    assert by_id["mmlu_redux-00002"].answer == "A"


def test_missing_and_empty_paths_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"eval\.benchmarks\.gpqa\.path: no record file at .*nope"):
        load_benchmark(Benchmark.gpqa, BenchmarkConfig(str(tmp_path / "nope")))
    (tmp_path / "blank.jsonl").write_text('{"problem": "", "solution": "\\\\boxed{1}"}\n')
    with pytest.raises(DataError, match=r"blank\.jsonl has no MATH-500 row"):
        load_benchmark(Benchmark.math500, BenchmarkConfig(str(tmp_path / "blank.jsonl")))
