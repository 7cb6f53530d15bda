"""The six benchmarks of the DRIFT paper's evaluation (``eval.suite=drift_paper``; the authors'
``src/benchmark.py`` and ``scripts/run_all_benchmark.sh``), read from local files.

Each benchmark has the reference's instruction (the first line of the first user turn), its
row reader (:mod:`~drift.evaluation.drift_paper.records`) and its answer rule
(:mod:`~drift.evaluation.drift_paper.answers`). Rows come in the reference's order, so that
``eval.benchmarks.<name>.limit`` keeps the problems its ``--max_samples`` keeps: a benchmark
the reference loads as one dataset is permuted as ``datasets.Dataset.shuffle(seed=42)`` does
(NumPy's ``default_rng(42).permutation``), then rows without a question are dropped; one it
loads subset by subset (MMLU-Redux, Hendrycks MATH) has its files read in path order, rows
without a question dropped, and the rest shuffled by ``random.Random(42)``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drift.config import BenchmarkConfig
from drift.data.sources import file_records
from drift.enums import Benchmark
from drift.evaluation.drift_paper import records
from drift.evaluation.drift_paper.answers import RULES
from drift.reward.verifiers import Verifier
from drift.types import Problem
from drift.utils.io import DataError, data_files

MATH_INSTRUCTION = (
    "You are solving Math problems. Only give the final answer between <answer> and </answer>."
)
CHOICE_AD_INSTRUCTION = (
    "You are solving multiple-choice questions. Only give the final answer letter (A-D) "
    "between <answer> and </answer>."
)
CHOICE_AJ_INSTRUCTION = CHOICE_AD_INSTRUCTION.replace("(A-D)", "(A-J)")
REFERENCE_SEED = 42
"""The seed of the reference's benchmark runs (``SEED=42``): it orders the rows."""


@dataclass(frozen=True)
class BenchmarkSpec:
    """What the reference does with one benchmark: ``label`` (its name in the paper),
    ``instruction``, ``read`` (row -> question, gold), ``rule`` (a key of
    :data:`~drift.evaluation.drift_paper.answers.RULES`), ``by_subset`` (the row order, module
    doc) and ``needs_gold`` (rows without a gold answer are dropped: GPQA)."""

    label: str
    instruction: str
    read: records.Reader
    rule: str
    by_subset: bool = False
    needs_gold: bool = False

    @property
    def verifier(self) -> Verifier:
        return RULES[self.rule]


SPECS: dict[Benchmark, BenchmarkSpec] = {
    Benchmark.math500: BenchmarkSpec("MATH-500", MATH_INSTRUCTION, records.read_math, "exact"),
    Benchmark.theoremqa: BenchmarkSpec(
        "TheoremQA", MATH_INSTRUCTION, records.read_theoremqa, "numeric"
    ),
    Benchmark.gpqa: BenchmarkSpec(
        "GPQA", CHOICE_AD_INSTRUCTION, records.read_gpqa, "choice", needs_gold=True
    ),
    Benchmark.mmlu_redux: BenchmarkSpec(
        "MMLU-Redux", CHOICE_AD_INSTRUCTION, records.read_mmlu, "choice", by_subset=True
    ),
    Benchmark.hendrycks_math: BenchmarkSpec(
        "Hendrycks MATH", MATH_INSTRUCTION, records.read_math, "exact", by_subset=True
    ),
    Benchmark.mmlu_pro: BenchmarkSpec(
        "MMLU-Pro", CHOICE_AJ_INSTRUCTION, records.read_mmlu_pro, "choice"
    ),
}


def plain_messages(question: str, instruction: str) -> list[dict[str, str]]:
    """The conversation under ``prompt_format=plain``: the question, then the instruction."""
    return [{"role": "user", "content": f"{question}\n\n{instruction}"}]


def _problem(name: Benchmark, spec: BenchmarkSpec, index: int, where: str, row: dict) -> Problem:
    question, gold = spec.read(row)
    return Problem(
        id=f"{name.value}-{index:05d}",
        messages=plain_messages(question, spec.instruction),
        answer=gold,
        meta={"question": question, "source": where, "benchmark": name.value},
    )


def _kept(problem: Problem, spec: BenchmarkSpec) -> bool:
    return bool(problem.meta["question"]) and (bool(problem.answer) or not spec.needs_gold)


def reference_order(problems: Sequence[Problem], spec: BenchmarkSpec) -> list[Problem]:
    """``problems`` (every row, in file order) in the reference's order, the ones it drops left
    out (module doc)."""
    if spec.by_subset:
        kept = [p for p in problems if _kept(p, spec)]
        random.Random(REFERENCE_SEED).shuffle(kept)
        return kept
    order = np.random.default_rng(REFERENCE_SEED).permutation(len(problems))
    return [problems[i] for i in order if _kept(problems[i], spec)]


def load_benchmark(name: Benchmark, cfg: BenchmarkConfig) -> list[Problem]:
    """The problems of benchmark ``name`` from ``cfg.path`` (a file, a directory or a glob:
    :func:`~drift.utils.io.data_files`), in the reference's order, the first ``cfg.limit``;
    DataError naming the path when it holds no file or no problem."""
    spec = SPECS[name]
    files = data_files(cfg.path)
    if not files:
        raise DataError(f"eval.benchmarks.{name.value}.path: no record file at {cfg.path}")
    rows = [(where, row) for path in files for where, _, row in file_records(Path(path))]
    problems = [_problem(name, spec, i, where, row) for i, (where, row) in enumerate(rows)]
    ordered = reference_order(problems, spec)[: cfg.limit]
    if not ordered:
        raise DataError(f"eval.benchmarks.{name.value}.path: {cfg.path} has no {spec.label} row")
    return ordered
