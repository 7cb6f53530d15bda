"""Online multi-turn GRPO (the online baseline) with TRL's ``GRPOTrainer`` and ``rollout_func``.

Each step, TRL hands the rollout function the step's prompts (each repeated ``num_generations``
times, as message lists). :class:`EpisodeRollout` looks their problems up, plays the episodes
with the shared driver on the current policy (same protocol, verifier and return as every
other method: ``env.protocol``, :mod:`drift.rollout.env`) and returns every episode as one
completion: the tokens after the first generation prompt, with ``env_mask`` = 1 on the
assistant's tokens (content and closing eos) and 0 on the user turns between answers (feedback
or revision instruction), which are context, not actions. The episode return is the reward.

``method.grpo.advantage: turn`` (the default) gives each assistant turn its own advantage: the
return earned from that turn on, normalised among the group's episodes that reached the turn
(:func:`turn_advantages`, TRL's per-token advantages via :class:`TurnCreditGRPOTrainer`). With
the episode's advantage on every token (``episode``, plain GRPO), whatever the model writes after
feedback sits only in episodes that missed turn 1, so it is pushed down on average: on the
seed-0 reference's rollouts of the embedded task (groups of 8) their tokens' mean advantage
is -0.77 (-0.21 even in episodes solved later; ``benchmarks/grpo_credit.py``). In a probe
(sampling temperature 1.5, 600 steps at lr 1e-4) every answer after feedback became malformed.

SCoRe (``method=score``, :func:`score_phases`) runs on the same trainer as consecutive *phases*
(:class:`Phase`): each sets the return of its episodes (per-attempt weights on correctness and
the shaped bonus, :func:`~drift.reward.returns.turn_contributions`) and a KL weight per attempt
(:func:`turn_kl_weights`), which :class:`TurnCreditGRPOTrainer` puts on each token in place of
TRL's single ``beta``.

Episodes are re-tokenised from their text with the chat template (:mod:`drift.data.chat`):
exact for the character tokenizer; a subword tokenizer may split a reply differently than it
was sampled, and a turn cut at ``max_completion_length`` gets the template's closing eos.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from accelerate.utils import gather_object
from datasets import Dataset
from torch.nn.utils.rnn import pad_sequence
from transformers import PreTrainedTokenizerBase, TrainerCallback
from trl import GRPOConfig, GRPOTrainer
from trl.trainer.utils import nanstd

from drift.config import EnvConfig, Protocol, RewardConfig, TaskConfig
from drift.data.chat import encode_examples, prompt_ids
from drift.models.config import ModelConfig
from drift.models.factory import apply_lora, export_hf, load_policy
from drift.reward.returns import turn_contributions
from drift.reward.verifiers import build_verifier
from drift.rollout.driver import run_episodes
from drift.rollout.engine import Engine, SamplingParams
from drift.rollout.env import Environment
from drift.rollout.hf_engine import HFEngine
from drift.training.grpo_config import AdvantageLevel, GRPOSettings, RewardScaling, ScoreSettings
from drift.types import Message, Problem, TrainExample, Trajectory
from drift.utils.io import write_jsonl

log = logging.getLogger(__name__)

_NO_LIMIT = 1 << 30


def prompt_key(messages: list[Message]) -> str:
    """A hashable identity of a prompt (role and content of each message)."""
    return json.dumps([[m["role"], m["content"]] for m in messages])


def unique_prompts(problems: list[Problem]) -> dict[str, Problem]:
    """Problems by :func:`prompt_key`; of problems sharing a prompt the first is kept (warned)."""
    out: dict[str, Problem] = {}
    for problem in problems:
        out.setdefault(prompt_key(problem.messages), problem)
    if len(out) < len(problems):
        log.warning("grpo: %d problems repeat an earlier prompt", len(problems) - len(out))
    return out


def encode_episodes(
    tokenizer: PreTrainedTokenizerBase, trajectories: list[Trajectory]
) -> dict[str, list[list[int]]]:
    """``prompt_ids``, ``completion_ids`` and ``env_mask`` (per episode, lists of ints).

    The completion runs from after the prompt's generation prompt to the last assistant token
    (a template's trailing newline is dropped); ``env_mask`` marks assistant tokens with 1.
    """
    examples = [
        TrainExample(id=f"{t.prompt_id}/{t.sample_id}", messages=t.messages(), loss_turns="all")
        for t in trajectories
    ]
    encoded = encode_examples(tokenizer, examples, max_length=_NO_LIMIT)
    prompts = {prompt_key(t.prompt): t.prompt for t in trajectories}  # groups share a prompt
    prompt_tokens = {key: prompt_ids(tokenizer, messages) for key, messages in prompts.items()}
    out: dict[str, list[list[int]]] = {"prompt_ids": [], "completion_ids": [], "env_mask": []}
    for traj, enc in zip(trajectories, encoded, strict=True):
        prompt = prompt_tokens[prompt_key(traj.prompt)]
        if enc.input_ids[: len(prompt)] != prompt or 1 in enc.loss_mask[: len(prompt)]:
            raise ValueError(f"episode {enc.id!r}: the prompt is not a prefix of the conversation")
        end = len(enc.loss_mask) - enc.loss_mask[::-1].index(1)
        out["prompt_ids"].append(prompt)
        out["completion_ids"].append(enc.input_ids[len(prompt) : end])
        out["env_mask"].append(enc.loss_mask[len(prompt) : end])
    return out


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


class EpisodeRollout:
    """TRL ``rollout_func``: multi-turn episodes of the trainer's current policy.

    ``make_engine(model)`` builds the engine for each call (default: :class:`HFEngine`);
    episodes follow ``env`` (default: the oracle protocol).

    Counts what it generates (``generated_tokens``: assistant tokens incl. their eos,
    ``generated_chars``, ``episodes``) for the cost accounting.
    """

    def __init__(
        self,
        problems: list[Problem],
        tokenizer: PreTrainedTokenizerBase,
        task: TaskConfig,
        reward: RewardConfig,
        settings: GRPOSettings,
        seed: int,
        make_engine: Callable[[Any], Engine] | None = None,
        env: EnvConfig | None = None,
        phases: list[Phase] | None = None,
    ) -> None:
        self.problems = unique_prompts(problems)
        self.env = Environment.from_config(task, env or EnvConfig())
        self.phases = phases
        if phases and self.env.protocol != Protocol.INTRINSIC:
            raise ValueError("GRPO phases set the intrinsic protocol's return: env.protocol")
        self.phase: Phase | None = None  # the last call's
        self.tokenizer = tokenizer
        self.task = task
        self.reward = reward
        self.settings = settings
        self.verifier = build_verifier(reward.verifier)
        self.seed = seed
        self.make_engine = make_engine or (
            lambda model: HFEngine(model, tokenizer, settings.rollout_batch_size)
        )
        self.calls = 0
        self.last_shares: list[list[float]] = []  # per episode of the last call, per turn
        self.generated_tokens = 0
        self.generated_chars = 0
        self.episodes = 0

    def _params(self) -> SamplingParams:
        """Sampling params with a fresh seed per call (a fixed seed would replay the noise)."""
        seed = int(np.random.SeedSequence([self.seed, self.calls]).generate_state(1)[0])
        self.calls += 1
        s = self.settings
        return SamplingParams(s.temperature, s.top_p, s.max_completion_length, seed)

    def play(self, model: Any, prompts: list[list[Message]]) -> list[Trajectory]:
        """One episode per prompt (in order) with ``model``."""
        try:
            problems = [self.problems[prompt_key(p)] for p in prompts]
        except KeyError as err:
            raise KeyError(f"rollout prompt not among the training problems: {err}") from None
        return run_episodes(
            self.make_engine(model),
            problems,
            num_samples=1,
            params=self._params(),
            env=self.env,
            verifier=self.verifier,
            reward=self.reward,
            answer_format=self.task.answer_format,
        )

    def phase_at(self, step: int) -> tuple[int, Phase]:
        """The (0-based index, phase) that optimiser step ``step`` (0-based) belongs to; past
        the last phase's end, the last phase."""
        assert self.phases
        end = 0
        for index, phase in enumerate(self.phases):
            end += phase.steps
            if step < end:
                return index, phase
        return len(self.phases) - 1, self.phases[-1]

    def __call__(self, prompts: list[list[Message]], trainer: GRPOTrainer) -> dict[str, Any]:
        trajectories = self.play(trainer.accelerator.unwrap_model(trainer.model), prompts)
        out: dict[str, Any] = encode_episodes(self.tokenizer, trajectories)
        self.generated_tokens += sum(sum(mask) for mask in out["env_mask"])
        self.generated_chars += sum(len(turn.text) for t in trajectories for turn in t.turns)
        self.episodes += len(trajectories)
        if self.phases:
            step = trainer.state.global_step
            index, phase = self.phase_at(step)
            if phase is not self.phase:
                log.info("grpo: phase %s from step %d", phase.name, step)
            self.phase = phase
            self.last_shares = [
                turn_contributions(
                    t.turns, self.reward, self.env.protocol, phase.shaping_alpha, phase.turn_rewards
                )
                for t in trajectories
            ]
            out["episode_return"] = [sum(shares) for shares in self.last_shares]
            out["phase"] = [index + 1] * len(trajectories)
        else:
            self.last_shares = [
                self.env.turn_contributions(t.turns, self.reward) for t in trajectories
            ]
            out["episode_return"] = [t.ret for t in trajectories]
        out["logprobs"] = None
        out["solved_turn"] = [t.solved_turn or 0 for t in trajectories]
        out["final_correct"] = [t.final_correct for t in trajectories]
        return out


def turn_advantages(
    shares: list[list[float]], num_generations: int, scaling: RewardScaling
) -> torch.Tensor:
    """[N, max_turns] advantage of each turn of N episodes (0 past an episode's last turn).

    Episodes ``g * num_generations`` to ``(g + 1) * num_generations - 1`` are group g (TRL's
    order). Turn t's return-to-go, the sum of ``shares[i][t:]`` (:func:`turn_contributions`),
    is compared with its mean over the group's episodes that reached turn t, and divided by
    their std (``group``), by the std of every return-to-go in the batch (``batch``) or not at
    all (``none``). Turn 1's advantage is the episode's GRPO advantage; an episode alone at its
    depth gets 0.
    """
    lengths = torch.tensor([len(s) for s in shares])  # [N]
    width = int(lengths.max())
    rows = [torch.tensor(s, dtype=torch.float64) for s in shares]
    padded = pad_sequence(rows, batch_first=True)  # [N, turns], 0 past each episode's end
    to_go = padded.flip(1).cumsum(1).flip(1)
    to_go[torch.arange(width) >= lengths[:, None]] = float("nan")
    grouped = to_go.view(-1, num_generations, width)  # [groups, G, turns]
    advantages = grouped - torch.nanmean(grouped, dim=1, keepdim=True)
    if scaling is RewardScaling.GROUP:
        advantages = advantages / (nanstd(grouped, dim=1, keepdim=True) + 1e-4)
    elif scaling is RewardScaling.BATCH:
        advantages = advantages / (nanstd(to_go) + 1e-4)
    return torch.nan_to_num(advantages.view(len(shares), width), nan=0.0).float()


def token_turns(mask: torch.Tensor) -> torch.Tensor:
    """[B, T] 0-based turn index of each token, from the [B, T] mask of assistant tokens.

    Each assistant turn is one run of 1s; a token outside the runs gets the index of the last
    run before it (or 0), which a loss masked by ``mask`` never reads.
    """
    on = mask.bool()
    starts = on & ~F.pad(on[:, :-1], (1, 0))
    return (starts.long().cumsum(1) - 1).clamp(min=0)


def turn_kl_weights(mask: torch.Tensor, turn_kl: tuple[float, ...]) -> torch.Tensor:
    """[B, T] KL weight of each token: ``turn_kl[t]`` on the tokens of assistant turn t (the
    last weight on turns past the tuple's end), 0 where ``mask`` (assistant tokens) is 0."""
    weights = torch.tensor(turn_kl, dtype=torch.float32, device=mask.device)
    turns = token_turns(mask).clamp(max=len(turn_kl) - 1)
    return weights[turns] * mask


class _TokenBeta:
    """TRL's ``beta`` for one loss computation, one value per token: TRL's loss tests
    ``beta != 0.0`` and adds ``beta * per_token_kl``; here the product weighs each token."""

    def __init__(self, weights: torch.Tensor) -> None:
        self.weights = weights

    def __ne__(self, other: object) -> bool:
        return True  # the reference's log-probs are there: TRL computed them for its beta > 0

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]

    def __mul__(self, other: torch.Tensor) -> torch.Tensor:
        return self.weights * other

    __rmul__ = __mul__


class TurnCreditGRPOTrainer(GRPOTrainer):
    """TRL's GRPO with per-token advantages: each assistant turn gets its :func:`turn_advantages`.

    ``rollout`` is the :class:`EpisodeRollout` (also the trainer's ``rollout_func``); its last
    call's per-turn shares of the return are gathered from every process, so groups that span
    processes are normalised as TRL normalises episode returns. When the rollout runs in
    :class:`Phase` s, the KL term weighs each token by its turn's ``Phase.turn_kl``
    (``kl_weights``, :func:`turn_kl_weights`) instead of TRL's ``beta``, which must then be
    > 0 so that TRL keeps the reference (:func:`train_grpo` sets it to the largest weight).
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
        beta, self.beta = self.beta, _TokenBeta(weights)
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self.beta = beta


class ForwardLogs(TrainerCallback):
    """Send the trainer's log lines to Lightning loggers (CSV, W&B) under ``train/``."""

    def __init__(self, loggers: list[Any]) -> None:
        self.loggers = loggers

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **_: Any):
        metrics = {f"train/{k}": float(v) for k, v in (logs or {}).items() if _is_number(v)}
        for logger in self.loggers:
            logger.log_metrics(metrics, step=state.global_step)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
) -> tuple[str, dict[str, float]]:
    """GRPO from the ``reference`` policy on ``problems``; returns the exported policy dir, stats.

    ``phases`` (SCoRe's stages, :func:`score_phases`) run one after the other in one trainer:
    their steps replace ``settings.steps`` and their per-turn KL weights ``settings.beta``; they
    need turn-level credit and the intrinsic protocol.

    Stats: ``cost/generated_tokens`` (assistant tokens sampled in rollouts), ``cost/wall_seconds``,
    ``cost/optimizer_steps``, ``cost/episodes``, ``cost/generated_chars``, and the last logged
    training metrics. TRL's log lines go to ``out_dir/grpo_log.jsonl`` and to ``loggers``
    (Lightning loggers); ``callbacks`` are extra ``transformers`` trainer callbacks. Episodes
    follow ``env`` (default: the oracle protocol).
    """
    out_dir = Path(out_dir)
    if phases:
        if settings.advantage is not AdvantageLevel.TURN:
            raise ValueError("GRPO phases weigh the KL per turn: they need advantage=turn")
        beta = max(max(phase.turn_kl) for phase in phases)
        settings = dataclasses.replace(settings, steps=sum(p.steps for p in phases), beta=beta)
    model, tokenizer = load_policy(model_cfg, path=reference)
    if model_cfg.lora is not None:
        model = apply_lora(model, model_cfg.lora)
    rollout = EpisodeRollout(
        problems, tokenizer, task, reward, settings, seed, env=env, phases=phases
    )
    common = dict(
        model=model,
        reward_funcs=episode_reward,
        args=grpo_args(settings, out_dir / "grpo", seed),
        train_dataset=prompt_dataset(rollout.problems),
        processing_class=tokenizer,
        callbacks=[*(callbacks or []), *([ForwardLogs(loggers)] if loggers else [])],
    )
    if settings.advantage is AdvantageLevel.TURN:
        trainer = TurnCreditGRPOTrainer(**common, rollout=rollout, settings=settings)
    else:
        trainer = GRPOTrainer(**common, rollout_func=rollout)
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    history = trainer.state.log_history
    write_jsonl(out_dir / "grpo_log.jsonl", history)
    policy_dir = out_dir / "policy"
    merge = model_cfg.lora.merge_on_export if model_cfg.lora is not None else True
    export_hf(trainer.accelerator.unwrap_model(trainer.model), tokenizer, policy_dir, merge)
    stats = {
        "cost/generated_tokens": float(rollout.generated_tokens),
        "cost/generated_chars": float(rollout.generated_chars),
        "cost/episodes": float(rollout.episodes),
        "cost/wall_seconds": wall,
        "cost/optimizer_steps": float(trainer.state.global_step),
        **_last_metrics(history),
    }
    log.info("grpo: %d steps in %.1f s", trainer.state.global_step, wall)
    return str(policy_dir), stats


def _last_metrics(history: list[dict[str, Any]]) -> dict[str, float]:
    """The last logged value of the reward and solve-rate curves, under ``train/``."""
    keys = (
        "reward",
        "episodes/solve_rate",
        "episodes/first_turn_acc",
        "episodes/final_acc",
        "phase",
        "loss",
    )
    last: dict[str, float] = {}
    for row in history:
        last.update({f"train/{k}": float(row[k]) for k in keys if _is_number(row.get(k))})
    return last
