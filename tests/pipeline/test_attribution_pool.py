"""The study's pool sources: task=arithmetic is accepted, kinds must fit the task, cache keys."""

import pytest

from drift.config import ConfigError, load_config
from drift.pipeline.attribution import check_methods, columns, study_pool
from drift.pipeline.attribution_pool import ARITHMETIC, EMBEDDED, study_queries, study_task

ARITH = [
    "experiment=attribution_demo",
    "task=arithmetic",
    "study.pool_size=100",
    "study.num_queries=12",
    "study.corruption.wrong_parity=0",
    "study.corruption.format=0",
    "+study.corruption.off_by_ten=0.2",
    "+study.corruption.answer_first=0.1",
]


def test_arithmetic_study_builds_its_pool_and_queries(compose_cfg):
    cfg = load_config(compose_cfg(ARITH))
    assert "drift_if" in check_methods(cfg) and study_task(cfg) is ARITHMETIC
    pool, key = study_pool(cfg)
    assert pool.counts() == {"clean": 70, "off_by_ten": 20, "answer_first": 10}
    assert all(ex.messages[-1]["content"].endswith(".") for ex in pool.examples)
    again, same = study_pool(load_config(compose_cfg(ARITH)))
    assert same == key and again.kinds == pool.kinds
    _, other = study_pool(load_config(compose_cfg([*ARITH, "seed=1"])))
    _, shares = study_pool(load_config(compose_cfg([*ARITH, "study.corruption.off_by_ten=0.3"])))
    assert len({key, other, shares}) == 3
    queries = study_queries(cfg)
    assert len(queries) == 12 and all(q.id.startswith("val-") for q in queries)
    assert {q.meta["kind"] for q in queries} <= {"add", "sub", "mul"}
    assert "auroc/off_by_ten" in columns(ARITHMETIC) and "auroc/format" in columns(EMBEDDED)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["study.corruption.format=0.1"], r"study\.corruption\.format=0\.1: task=arithmetic"),
        (["study.multi_turn_fraction=0.2"], "single-turn"),
    ],
)
def test_arithmetic_study_refuses_what_its_pool_lacks(compose_cfg, extra, match):
    cfg = load_config(compose_cfg([*ARITH, *extra]))
    with pytest.raises(ConfigError, match=match):
        check_methods(cfg)


def test_embedded_study_refuses_arithmetic_kinds(compose_cfg):
    cfg = load_config(
        compose_cfg(["experiment=attribution_demo", "+study.corruption.off_by_ten=.1"])
    )
    with pytest.raises(ConfigError, match="task=embedded pools have the kinds wrong_parity"):
        check_methods(cfg)
