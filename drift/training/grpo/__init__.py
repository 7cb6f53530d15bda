"""Online multi-turn GRPO (the online baseline) with TRL's ``GRPOTrainer`` and ``rollout_func``.

:mod:`.episodes` plays the episodes TRL trains on, :mod:`.reward` hands their returns to TRL,
:mod:`.credit` gives each assistant turn its advantage and KL weight, :mod:`.phases` runs SCoRe
as phases of one run, :mod:`.trainer` builds TRL's trainer, :mod:`.logs` forwards its log lines
and :mod:`.train` is the entry point (:func:`train_grpo`).
"""

from drift.training.grpo.credit import token_turns, turn_advantages, turn_kl_weights
from drift.training.grpo.episodes import (
    EpisodeRollout,
    encode_episodes,
    prompt_key,
    unique_prompts,
)
from drift.training.grpo.logs import ForwardLogs
from drift.training.grpo.phases import Phase, phased_settings, score_phases
from drift.training.grpo.reward import episode_reward
from drift.training.grpo.train import train_grpo
from drift.training.grpo.trainer import (
    TurnCreditGRPOTrainer,
    build_trainer,
    grpo_args,
    prompt_dataset,
)

__all__ = [
    "EpisodeRollout",
    "ForwardLogs",
    "Phase",
    "TurnCreditGRPOTrainer",
    "build_trainer",
    "encode_episodes",
    "episode_reward",
    "grpo_args",
    "phased_settings",
    "prompt_dataset",
    "prompt_key",
    "score_phases",
    "token_turns",
    "train_grpo",
    "turn_advantages",
    "turn_kl_weights",
    "unique_prompts",
]
