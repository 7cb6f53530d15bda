"""`drift bench`: each hot path of the project timed against its baseline in one process.

One module per benchmark (:mod:`~drift.bench.features`, :mod:`~drift.bench.sft`,
:mod:`~drift.bench.rollout`, :mod:`~drift.bench.score`, :mod:`~drift.bench.precondition`), each
with a ``run(size, repeats)`` that returns a :class:`~drift.bench.harness.BenchResult`;
:mod:`drift.bench.cli` prints and saves them.
"""
