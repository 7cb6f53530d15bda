"""TRL's GRPO trainer for drift: its config from ours, and the turn-credit subclass."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import gather_object
from datasets import Dataset
from transformers import PreTrainedTokenizerBase, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from drift.training.grpo.credit import TokenBeta, token_turns, turn_advantages, turn_kl_weights
from drift.training.grpo.episodes import EpisodeRollout
from drift.training.grpo.reward import episode_reward
from drift.training.grpo_config import AdvantageLevel, GRPOSettings
from drift.types import Problem


class TurnCreditGRPOTrainer(GRPOTrainer):
    """TRL's GRPO with per-token advantages: each assistant turn gets its :func:`turn_advantages`.

    ``rollout`` is the :class:`EpisodeRollout` (also the trainer's ``rollout_func``); its last
    call's per-turn shares of the return are gathered from every process, so groups that span
    processes are normalised as TRL normalises episode returns. When the rollout runs in
    :class:`~drift.training.grpo.phases.Phase` s, the KL term weighs each token by its turn's
    ``Phase.turn_kl`` (``kl_weights``, :func:`turn_kl_weights`) instead of TRL's ``beta``, which
    must then be > 0 so that TRL keeps the reference
    (:func:`~drift.training.grpo.phases.phased_settings` sets it to the largest weight).
    """

    def __init__(self, *args: Any, rollout: EpisodeRollout, settings: GRPOSettings, **kwargs: Any):
        super().__init__(*args, rollout_func=rollout, **kwargs)
        self.episode_rollout = rollout
        self.settings = settings

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        out = super()._generate_and_score_completions(inputs)
        local = self.episode_rollout.last_shares
        advantages = turn_advantages(
            gather_object(local), self.settings.num_generations, self.settings.scale_rewards
        )
        start = self.accelerator.process_index * len(local)
        advantages = advantages[start : start + len(local)].to(out["advantages"].device)
        mask = out["completion_mask"] * out["tool_mask"]  # [B, T] assistant tokens
        turns = token_turns(mask).clamp(max=advantages.shape[1] - 1)
        out["advantages"] = torch.gather(advantages, 1, turns) * mask
        phase = self.episode_rollout.phase
        if phase is not None and self.beta != 0.0:
            out["kl_weights"] = turn_kl_weights(mask, phase.turn_kl)
        return out

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        weights = inputs.get("kl_weights")
        if weights is None:
            return super()._compute_loss(model, inputs)
        beta, self.beta = self.beta, TokenBeta(weights)
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self.beta = beta


def grpo_args(settings: GRPOSettings, out_dir: Path, seed: int) -> GRPOConfig:
    """TRL's config from ours; CPU-friendly: fp32, no gradient checkpointing."""
    s = settings
    use_cpu = s.use_cpu if s.use_cpu is not None else not torch.cuda.is_available()
    return GRPOConfig(
        output_dir=str(out_dir),
        max_steps=s.steps,
        num_generations=s.num_generations,
        per_device_train_batch_size=s.per_device_train_batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps,
        learning_rate=s.lr,
        lr_scheduler_type="constant",
        weight_decay=s.weight_decay,
        max_grad_norm=s.max_grad_norm,
        loss_type=s.loss_type.value,
        scale_rewards=s.scale_rewards.value,
        beta=s.beta,
        epsilon=s.epsilon,
        temperature=s.temperature,
        top_p=s.top_p,
        top_k=0,
        max_completion_length=s.max_completion_length,
        logging_steps=s.logging_steps,
        use_cpu=use_cpu,
        bf16=False,
        fp16=False,
        gradient_checkpointing=s.gradient_checkpointing,
        remove_unused_columns=False,
        save_strategy="no",
        report_to="none",
        disable_tqdm=not sys.stderr.isatty(),
        seed=seed,
        data_seed=seed,
    )


def prompt_dataset(problems: dict[str, Problem]) -> Dataset:
    """TRL's training set: one row per distinct prompt (``prompt`` messages, ``problem_id``)."""
    return Dataset.from_list(
        [{"prompt": p.messages, "problem_id": p.id} for p in problems.values()]
    )


def build_trainer(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    rollout: EpisodeRollout,
    settings: GRPOSettings,
    out_dir: Path,
    seed: int,
    callbacks: list[TrainerCallback],
) -> GRPOTrainer:
    """The trainer of ``settings.advantage``: :class:`TurnCreditGRPOTrainer` for ``turn``,
    TRL's own for ``episode``; ``rollout`` plays its episodes, on ``rollout.problems``."""
    common = dict(
        model=model,
        reward_funcs=episode_reward,
        args=grpo_args(settings, out_dir, seed),
        train_dataset=prompt_dataset(rollout.problems),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    if settings.advantage is AdvantageLevel.turn:
        return TurnCreditGRPOTrainer(**common, rollout=rollout, settings=settings)
    return GRPOTrainer(**common, rollout_func=rollout)
