"""``eval.suite=drift_paper``: a policy's greedy episodes on the DRIFT paper's six benchmarks,
through the shared evaluation (:func:`~drift.evaluation.multiturn.evaluation_episodes`); README,
"The DRIFT paper's benchmarks".

Each benchmark runs in ``eval.prompt_format`` with its own instruction (``prompt.
answer_instruction`` under the DRIFT formats; after the question under ``plain``), answers read
from ``<answer>`` tags, its own answer rule as the verifier, ``eval.suite_max_turns`` turns of
at most ``eval.suite_max_new_tokens`` tokens, under ``env.protocol`` with ``task.feedback``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from drift.config import DriftConfig
from drift.enums import AnswerFormat, Benchmark
from drift.evaluation.drift_paper.benchmarks import SPECS, load_benchmark
from drift.evaluation.drift_paper.report import benchmark_metrics, suite_markdown
from drift.evaluation.multiturn import GREEDY, evaluation_episodes
from drift.pipeline.evaluate import write_episodes
from drift.rollout.engine import Engine
from drift.utils.io import write_json

log = logging.getLogger(__name__)

SUITE_DIR = Path("eval") / "drift_paper"
"""Under a policy's directory: ``<benchmark>.jsonl`` (episodes), ``metrics.json``, ``tables.md``."""


def evaluate_suite(engine: Engine, cfg: DriftConfig, out_dir: Path) -> dict[str, float]:
    """Evaluate ``engine``'s policy on ``eval.suite_benchmarks``; write the episodes, metrics
    and tables under ``out_dir / SUITE_DIR`` and log the tables. Returns the metrics as
    ``drift_paper/<benchmark>/<metric>``."""
    suite_dir = out_dir / SUITE_DIR
    task = replace(cfg.task, max_turns=cfg.eval.suite_max_turns, answer_format=AnswerFormat.tags)
    eval_cfg = replace(
        cfg.eval,
        greedy=True,
        sampled_samples=0,
        max_new_tokens=cfg.eval.suite_max_new_tokens,
        suite=None,
    )
    results: dict[str, dict[str, float]] = {}
    for name in cfg.eval.suite_benchmarks:
        spec = SPECS[Benchmark(name)]
        problems = load_benchmark(Benchmark(name), cfg.eval.benchmarks[name])
        log.info("drift_paper: %s, %d problems", spec.label, len(problems))
        prompt = replace(cfg.prompt, answer_instruction=spec.instruction)
        episodes = evaluation_episodes(
            engine, problems, eval_cfg, task, cfg.env, spec.verifier, cfg.reward, cfg.seed, prompt
        )
        write_episodes(suite_dir / f"{name}.jsonl", episodes)
        results[name] = benchmark_metrics(episodes[GREEDY], task.max_turns)
    write_json(suite_dir / "metrics.json", results)
    labels = {SPECS[Benchmark(n)].label: m for n, m in results.items()}
    tables = suite_markdown(labels, task.max_turns)
    (suite_dir / "tables.md").write_text(tables)
    log.info("drift_paper suite (%s):\n%s", out_dir, tables)
    return {f"drift_paper/{n}/{k}": v for n, m in results.items() for k, v in m.items()}
