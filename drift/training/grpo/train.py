"""The public entry point: a GRPO run from the reference policy, exported, with its costs."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from drift.config import EnvConfig, PromptConfig, RewardConfig, TaskConfig
from drift.enums import PromptFormat
from drift.models.config import ModelConfig
from drift.models.factory import apply_lora, export_hf, load_policy
from drift.training.grpo.episodes import EpisodeRollout
from drift.training.grpo.logs import ForwardLogs, last_metrics
from drift.training.grpo.phases import Phase, phased_settings
from drift.training.grpo.trainer import build_trainer
from drift.training.grpo_config import GRPOSettings
from drift.types import Problem
from drift.utils.io import write_jsonl

log = logging.getLogger(__name__)


def train_grpo(
    model_cfg: ModelConfig,
    task: TaskConfig,
    reward: RewardConfig,
    settings: GRPOSettings,
    reference: str,
    problems: list[Problem],
    out_dir: Path,
    seed: int,
    loggers: list[Any] | None = None,
    callbacks: list[TrainerCallback] | None = None,
    env: EnvConfig | None = None,
    phases: list[Phase] | None = None,
    prompt_format: PromptFormat = PromptFormat.plain,
    prompt: PromptConfig | None = None,
) -> tuple[str, dict[str, float]]:
    """GRPO from the ``reference`` policy on ``problems``; returns the exported policy dir, stats.

    ``phases`` (SCoRe's stages, :func:`~drift.training.grpo.phases.score_phases`) run one after
    the other in one trainer: their steps replace ``settings.steps`` and their per-turn KL
    weights ``settings.beta``; they need turn-level credit and the intrinsic protocol.

    Stats: ``cost/generated_tokens`` (assistant tokens sampled in rollouts), ``cost/wall_seconds``,
    ``cost/optimizer_steps``, ``cost/episodes``, ``cost/generated_chars``, and the last logged
    training metrics. TRL's log lines go to ``out_dir/grpo_log.jsonl`` and to ``loggers``
    (Lightning loggers); ``callbacks`` are extra ``transformers`` trainer callbacks. Episodes
    follow ``env`` (default: the oracle protocol) in ``prompt_format``
    (``rollout.prompt_format``; ``prompt``: the DRIFT formats' settings).
    """
    out_dir = Path(out_dir)
    if phases:
        settings = phased_settings(settings, phases)
    model, tokenizer = load_policy(model_cfg, path=reference)
    if model_cfg.lora is not None:
        model = apply_lora(model, model_cfg.lora)
    rollout = EpisodeRollout(
        problems,
        tokenizer,
        task,
        reward,
        settings,
        seed,
        env=env,
        phases=phases,
        prompt_format=prompt_format,
        prompt=prompt,
    )
    callbacks = [*(callbacks or []), *([ForwardLogs(loggers)] if loggers else [])]
    trainer = build_trainer(model, tokenizer, rollout, settings, out_dir / "grpo", seed, callbacks)
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    history = trainer.state.log_history
    write_jsonl(out_dir / "grpo_log.jsonl", history)
    policy_dir = out_dir / "policy"
    merge = model_cfg.lora.merge_on_export if model_cfg.lora is not None else True
    export_hf(trainer.accelerator.unwrap_model(trainer.model), tokenizer, policy_dir, merge)
    steps = trainer.state.global_step
    log.info("grpo: %d steps in %.1f s", steps, wall)
    stats = {"cost/wall_seconds": wall, "cost/optimizer_steps": float(steps)}
    return str(policy_dir), {**rollout.cost(), **stats, **last_metrics(history)}
