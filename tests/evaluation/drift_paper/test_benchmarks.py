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
    Benchmark.MATH500: "math500.jsonl",
    Benchmark.THEOREMQA: "theoremqa.jsonl",
    Benchmark.GPQA: "gpqa.csv",
    Benchmark.MMLU_REDUX: "mmlu_redux",
    Benchmark.HENDRYCKS_MATH: "hendrycks_math",
    Benchmark.MMLU_PRO: "mmlu_pro.parquet",
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
    assert instructions[Benchmark.MMLU_PRO] == CHOICE_AJ_INSTRUCTION
    assert instructions[Benchmark.GPQA] == instructions[Benchmark.MMLU_REDUX]
    assert instructions[Benchmark.THEOREMQA] == instructions[Benchmark.HENDRYCKS_MATH]
    rules = {b: s.verifier for b, s in SPECS.items()}
    assert rules[Benchmark.MATH500] is exact_rule and rules[Benchmark.HENDRYCKS_MATH] is exact_rule
    assert rules[Benchmark.THEOREMQA] is numeric_rule
    assert {rules[b] for b in (Benchmark.GPQA, Benchmark.MMLU_REDUX, Benchmark.MMLU_PRO)} == {
        choice_rule
    }
    assert list(SPECS) == list(Benchmark)


def test_every_fixture_loads_with_its_instruction() -> None:
    sizes = {name: len(_load(name)) for name in Benchmark}
    # math500 drops its blank question, gpqa its row without an answer
    assert sizes == {
        Benchmark.MATH500: 3,
        Benchmark.THEOREMQA: 3,
        Benchmark.GPQA: 2,
        Benchmark.MMLU_REDUX: 3,
        Benchmark.HENDRYCKS_MATH: 3,
        Benchmark.MMLU_PRO: 2,
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
    assert [p.id for p in _load(Benchmark.MATH500)] == [f"math500-{i:05d}" for i in order]
    assert [p.id for p in _load(Benchmark.MATH500, limit=2)] == [
        f"math500-{i:05d}" for i in order[:2]
    ]


def test_subsets_are_read_in_path_order_then_shuffled_by_random() -> None:
    problems = _load(Benchmark.MMLU_REDUX)
    ids = [f"mmlu_redux-{i:05d}" for i in range(3)]  # anatomy 0, 1, then virology 2
    random.Random(42).shuffle(ids)
    assert [p.id for p in problems] == ids
    by_id = {p.id: p for p in problems}
    assert by_id["mmlu_redux-00002"].meta["question"].startswith("Which is a virus?")
    assert by_id["mmlu_redux-00002"].answer == "A"


def test_missing_and_empty_paths_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"eval\.benchmarks\.gpqa\.path: no record file at .*nope"):
        load_benchmark(Benchmark.GPQA, BenchmarkConfig(str(tmp_path / "nope")))
    (tmp_path / "blank.jsonl").write_text('{"problem": "", "solution": "\\\\boxed{1}"}\n')
    with pytest.raises(DataError, match=r"blank\.jsonl has no MATH-500 row"):
        load_benchmark(Benchmark.MATH500, BenchmarkConfig(str(tmp_path / "blank.jsonl")))
