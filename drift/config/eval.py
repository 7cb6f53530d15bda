"""The ``eval`` keys: the multi-turn evaluation and the DRIFT paper's benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from drift.enums import Benchmark, EvalSuite, PromptFormat
from drift.errors import ConfigError, require_non_negative, require_positive
from drift.utils.io import data_files

BENCHMARK_DIR = "data/drift_paper"
"""Where ``eval.suite=drift_paper`` looks for each benchmark by default: ``<dir>/<name>``."""


@dataclass
class BenchmarkConfig:
    """One benchmark of ``eval.suite``: ``path`` is a file (JSONL, JSON, parquet or CSV) or a
    directory of them (one file per subset, read in name order); ``limit`` keeps the first N
    problems after the DRIFT authors' shuffle (all when null)."""

    path: str = field(
        default=MISSING,
        metadata={
            "help": "a JSONL/JSON/parquet/CSV file, a directory of them or a glob, relative to "
            "where drift runs"
        },
    )
    limit: int | None = field(
        default=None,
        metadata={"help": "the first N problems after the DRIFT authors' shuffle (null: all)"},
    )


def _suite_benchmarks() -> dict[str, BenchmarkConfig]:
    return {b.value: BenchmarkConfig(f"{BENCHMARK_DIR}/{b.value}") for b in Benchmark}


@dataclass
class EvalConfig:
    """Multi-turn evaluation on the test split: greedy, plus optional sampled episodes; with
    ``suite`` set, also the suite's benchmarks (``suite_benchmarks``, files at
    ``benchmarks.<name>.path``), greedy, in ``suite_max_turns`` turns of at most
    ``suite_max_new_tokens`` tokens (README, "The DRIFT paper's benchmarks")."""

    greedy: bool = field(
        default=True,
        metadata={"help": "greedy episodes on the test split"},
    )
    sampled_samples: int = field(
        default=4,
        metadata={"help": "sampled episodes per test problem (0: none)"},
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "temperature of the sampled episodes"},
    )
    max_new_tokens: int = field(
        default=24,
        metadata={
            "help": "new tokens per assistant turn (conf/config.yaml: rollout.max_new_tokens)"
        },
    )
    batch_size: int = field(
        default=1024,
        metadata={
            "help": "conversations per generation batch (conf/config.yaml: rollout.batch_size)"
        },
    )
    prompt_format: PromptFormat = field(
        default=PromptFormat.plain,
        metadata={
            "help": "plain (the task's messages), drift_full or drift_simple: the DRIFT authors' "
            "prompts (settings under prompt.*)"
        },
    )
    suite: EvalSuite | None = field(
        default=None,
        metadata={
            "help": "drift_paper: after the test split, also the DRIFT paper's six benchmarks, "
            "greedy (null: none)"
        },
    )
    suite_benchmarks: list[str] = field(
        default_factory=lambda: [b.value for b in Benchmark],
        metadata={"help": "the suite's benchmarks that run"},
    )
    benchmarks: dict[str, BenchmarkConfig] = field(
        default_factory=_suite_benchmarks,
        metadata={
            "help": "name -> where each benchmark's test split is read from, and how many of its "
            "problems"
        },
    )
    suite_max_turns: int = field(
        default=5,
        metadata={"help": "turns per benchmark episode"},
    )
    suite_max_new_tokens: int = field(
        default=1024,
        metadata={"help": "new tokens per turn on the benchmarks"},
    )

    def __post_init__(self) -> None:
        require_non_negative("eval.sampled_samples", self.sampled_samples)
        require_positive("eval.max_new_tokens", self.max_new_tokens)
        require_positive("eval.suite_max_turns", self.suite_max_turns)
        require_positive("eval.suite_max_new_tokens", self.suite_max_new_tokens)
        if self.suite is not None:
            self._check_suite()

    def _check_suite(self) -> None:
        """Every benchmark the suite runs is known and its file or directory exists."""
        known = [b.value for b in Benchmark]
        for key, names in (
            ("suite_benchmarks", self.suite_benchmarks),
            ("benchmarks", self.benchmarks),
        ):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ConfigError(f"eval.{key}: unknown {unknown}; the benchmarks are {known}")
        if not self.suite_benchmarks:
            raise ConfigError(f"eval.suite_benchmarks is empty; choose among {known}")
        for name in self.suite_benchmarks:
            if name not in self.benchmarks:
                raise ConfigError(f"eval.benchmarks.{name}.path is not set")
            bench = self.benchmarks[name]
            if bench.limit is not None:
                require_positive(f"eval.benchmarks.{name}.limit", bench.limit)
            if not data_files(bench.path):
                raise ConfigError(
                    f"eval.benchmarks.{name}.path: no .jsonl, .json, .parquet or .csv file at "
                    f"{bench.path} (relative paths start where drift runs). Put the benchmark's "
                    f"test split there or set the path to your copy (README, \"The DRIFT paper's "
                    f'benchmarks"), or leave {name} out of eval.suite_benchmarks'
                )
