"""The attribution study's task-specific parts: pool, validation queries, reference replies.

Two pool sources share one structure (:class:`~drift.data.pool.Pool`, the exact-count
selection of :func:`~drift.data.pool.plant`):

- ``task=embedded``: :func:`drift.data.pool.build_pool` (``<answer>3</answer>`` replies; kinds
  ``wrong_parity``, ``format``, ``repeat``); its cache key is unchanged since ``pool-v1``;
- ``task=arithmetic``: :func:`drift.data.arithmetic_pool.build_arithmetic_pool` (worked replies
  ``43 + 12 = 55.`` in the model's chat format; kinds ``off_by_ten``, ``wrong_operation``,
  ``answer_first``), single-turn only.

:class:`StudyTask` carries what the scorers need to know about the task: the reply a correct
reference answer has in the pool's style (LESS, grad_sim, cg_if, PRISM's desired response) and
the ``Problem.meta`` key that splits validation queries into LESS's tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drift.attribution.study_config import TASK_KINDS, CorruptionKind
from drift.config import ConfigError, DriftConfig, TaskSource
from drift.data.arithmetic import make_arithmetic_split
from drift.data.arithmetic_pool import build_arithmetic_pool, worked_reply
from drift.data.embedded import format_answer, make_split
from drift.data.pool import Pool, build_pool
from drift.types import Problem
from drift.utils.hashing import config_hash

POOL_VERSION = "pool-v1"
ARITHMETIC_POOL_VERSION = "arithmetic-pool-v1"


def embedded_reply(problem: Problem) -> str:
    """The embedded task's correct reply: ``<answer>3</answer>``."""
    return format_answer(problem.answer)


@dataclass(frozen=True)
class StudyTask:
    """What scoring needs to know about the study's task."""

    reply: Callable[[Problem], str]  # a correct reply in the pool's style
    group: str  # Problem.meta key of LESS's validation tasks (a missing key: one task)
    kinds: tuple[CorruptionKind, ...]  # corruption kinds, in table order


EMBEDDED = StudyTask(embedded_reply, "clue", TASK_KINDS["embedded"])
ARITHMETIC = StudyTask(worked_reply, "kind", TASK_KINDS["arithmetic"])
_TASKS = {TaskSource.embedded: EMBEDDED, TaskSource.arithmetic: ARITHMETIC}


def study_task(cfg: DriftConfig) -> StudyTask:
    """The study task of ``cfg.task``; ConfigError for a task the study cannot build a pool from,
    or a corruption kind (share > 0) or multi-turn pool it does not have."""
    name = TaskSource(cfg.task.name)
    if name not in _TASKS:
        raise ConfigError(
            "the attribution study builds its pool from task=embedded or task=arithmetic "
            f"(got task.name={name.value})"
        )
    task = _TASKS[name]
    for kind, share in cfg.study.corruption.items():
        if share > 0 and kind not in task.kinds:
            names = ", ".join(k.value for k in task.kinds)
            raise ConfigError(
                f"study.corruption.{kind}={share}: task={name.value} pools have the kinds "
                f"{names}; set it to 0"
            )
    if name is TaskSource.arithmetic and cfg.study.multi_turn_fraction > 0:
        raise ConfigError("study.multi_turn_fraction: task=arithmetic pools are single-turn; use 0")
    return task


def _shortest_first(pool: Pool) -> Pool:
    """Shortest first: feature batches then hold examples of similar length (little padding)."""
    lengths = [sum(len(m["content"]) for m in ex.messages) for ex in pool.examples]
    order = np.argsort(lengths, kind="stable")
    return Pool([pool.examples[i] for i in order], [pool.kinds[i] for i in order])


def study_pool(cfg: DriftConfig) -> tuple[Pool, str]:
    """The corrupted pool of this run and the hash that keys everything computed from it."""
    study_task(cfg)
    s, t = cfg.study, cfg.task
    seed = 1000 * s.pool_seed + cfg.seed
    if t.name == TaskSource.arithmetic:
        shares = sorted((k, v) for k, v in s.corruption.items() if v > 0)
        parts_a = (s.pool_size, seed, t.arithmetic, t.system_prompt)
        pool, _ = build_arithmetic_pool(*parts_a, corruption=s.corruption)
        return _shortest_first(pool), config_hash(ARITHMETIC_POOL_VERSION, parts_a, shares)
    parts = (s.pool_size, seed, t.num_candidates, t.feedback, s.multi_turn_fraction)
    pool = build_pool(*parts, corruption=s.corruption)
    return _shortest_first(pool), config_hash(POOL_VERSION, parts, sorted(s.corruption.items()))


def study_queries(cfg: DriftConfig) -> list[Problem]:
    """``study.num_queries`` validation queries from the task's val split (``task.seed``)."""
    s, t = cfg.study, cfg.task
    if t.name == TaskSource.arithmetic:
        return make_arithmetic_split("val", s.num_queries, t.seed, t.arithmetic, t.system_prompt)
    return make_split("val", s.num_queries, t.seed, t.num_candidates)
