"""SCoRe (``method=score``) as consecutive phases of one GRPO run.

Each :class:`Phase` sets the return of its episodes (per-attempt weights on correctness and the
shaped bonus, :func:`~drift.reward.returns.turn_contributions`) and a KL weight per attempt
(:func:`~drift.training.grpo.credit.turn_kl_weights`), which
:class:`~drift.training.grpo.trainer.TurnCreditGRPOTrainer` puts on each token in place of
TRL's single ``beta``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from drift.training.grpo_config import AdvantageLevel, GRPOSettings, ScoreSettings


@dataclass(frozen=True)
class Phase:
    """``steps`` optimiser steps of a GRPO run under the intrinsic protocol (SCoRe's stages).

    Its episodes earn sum_t ``turn_rewards[t]`` r_t + ``shaping_alpha`` (r_T - r_1) minus
    ``reward.format_penalty`` per malformed answer (:func:`turn_contributions`, which also
    splits the return among the turns for turn-level credit), and the KL to the reference weighs
    attempt t's tokens ``turn_kl[t]`` (:func:`turn_kl_weights`).
    """

    name: str
    steps: int
    turn_rewards: tuple[float, ...]
    shaping_alpha: float
    turn_kl: tuple[float, ...]


def score_phases(score: ScoreSettings, settings: GRPOSettings) -> list[Phase]:
    """SCoRe's two stages over ``settings.steps`` optimiser steps, two attempts per episode.

    Stage I (the first ``score.stage1_steps``): reward r_2, KL ``score.beta2`` on the first
    attempt and ``settings.beta`` (beta_1) on the second. Stage II (the rest): reward
    r_1 + r_2 + ``score.alpha`` (r_2 - r_1), KL beta_1 on both. When ``trainer.max_steps`` cut
    ``settings.steps`` to no more than ``stage1_steps`` (``debug=fast``), stage I gets half.
    """
    steps = settings.steps
    stage1 = score.stage1_steps if score.stage1_steps < steps else steps // 2
    beta1 = settings.beta
    return [
        Phase("stage1", stage1, (0.0, 1.0), 0.0, (score.beta2, beta1)),
        Phase("stage2", steps - stage1, (1.0, 1.0), score.alpha, (beta1, beta1)),
    ]


def phased_settings(settings: GRPOSettings, phases: list[Phase]) -> GRPOSettings:
    """``settings`` for a run in ``phases``: their steps in all, and as TRL's ``beta`` their
    largest KL weight (> 0 keeps TRL's reference; the loss weighs each token by its phase's).
    Phases weigh the KL per turn, so they need ``advantage=turn``."""
    if settings.advantage is not AdvantageLevel.turn:
        raise ValueError("GRPO phases weigh the KL per turn: they need advantage=turn")
    beta = max(max(phase.turn_kl) for phase in phases)
    return dataclasses.replace(settings, steps=sum(p.steps for p in phases), beta=beta)
