"""The reward function TRL calls: the episode return the rollout computed, with solve rates."""

from __future__ import annotations

from typing import Any

import numpy as np


def episode_reward(
    completions: list[Any], episode_return: list[float], solved_turn: list[int], **kwargs: Any
) -> list[float]:
    """GRPO reward: the episode return R computed by the driver. Logs solve rates as metrics
    (``final_correct``, when given: the last answer's accuracy, which under the intrinsic
    protocol can differ from the solve rate; ``phase``, when given: the 1-based phase)."""
    log_metric = kwargs.get("log_metric")
    if log_metric is not None:
        turns = np.asarray(solved_turn)  # [N], 0 = never solved
        log_metric("episodes/solve_rate", float((turns > 0).mean()))
        log_metric("episodes/first_turn_acc", float((turns == 1).mean()))
        if kwargs.get("final_correct") is not None:
            log_metric("episodes/final_acc", float(np.mean(kwargs["final_correct"])))
        if kwargs.get("phase") is not None:
            log_metric("phase", float(np.mean(kwargs["phase"])))
    return [float(r) for r in episode_return]
