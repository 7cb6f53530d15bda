"""What training one method cost, under the same three names for every method.

- ``cost/generated_tokens``: every token sampled to make training data, all rounds included
  (a shared rollout set counts in full for each method that trains on it).
- ``cost/wall_seconds``: rollout plus training seconds (a cached rollout set at the time it took
  when it was drawn); GRPO reports its trainer's wall time, rollouts included.
- ``cost/optimizer_steps``.

The reference's warm-up, shared by every method, and evaluation are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping

from drift.config import MethodConfig

COST_KEYS = ("cost/generated_tokens", "cost/wall_seconds", "cost/optimizer_steps")


def method_cost(method: MethodConfig, stats: Mapping[str, float]) -> dict[str, float]:
    """The ``cost/*`` entries of ``stats``, the shared keys first.

    A method that trains nothing costs zero; one that reports its time in parts
    (``cost/rollout_seconds``, ``cost/train_seconds``: the offline family) gets their sum as
    ``cost/wall_seconds``.
    """
    if not method.train:
        return dict.fromkeys(COST_KEYS, 0.0)
    cost = {k: float(v) for k, v in stats.items() if k.startswith("cost/")}
    parts = [v for k, v in cost.items() if k.endswith("_seconds")]
    if "cost/wall_seconds" not in cost and parts:
        cost["cost/wall_seconds"] = sum(parts)
    return {**{k: cost[k] for k in COST_KEYS if k in cost}, **cost}
