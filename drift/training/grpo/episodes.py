"""Episode collection for GRPO: TRL's ``rollout_func`` plays multi-turn episodes.

Each step, TRL hands the rollout function the step's prompts (each repeated ``num_generations``
times, as message lists). :class:`EpisodeRollout` looks their problems up, plays the episodes
with the shared driver on the current policy (same protocol, verifier and return as every
other method: ``env.protocol``, :mod:`drift.rollout.env`) and returns every episode as one
completion: the tokens after the first generation prompt, with ``env_mask`` = 1 on the
assistant's tokens (content and closing eos) and 0 on the user turns between answers (feedback
or revision instruction), which are context, not actions. The episode return is the reward.

Episodes are re-tokenised from their text with the chat template (:mod:`drift.data.chat`):
exact for the character tokenizer; a subword tokenizer may split a reply differently than it
was sampled, and a turn cut at ``max_completion_length`` gets the template's closing eos.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerBase
from trl import GRPOTrainer

from drift.config import EnvConfig, PromptConfig, Protocol, RewardConfig, TaskConfig
from drift.data.chat import encode_examples, prompt_ids
from drift.enums import PromptFormat
from drift.reward.returns import turn_contributions
from drift.reward.verifiers import build_verifier
from drift.rollout.driver import run_episodes
from drift.rollout.engine import Engine, SamplingParams
from drift.rollout.env import Environment
from drift.rollout.hf_engine import HFEngine
from drift.training.grpo.phases import Phase
from drift.training.grpo_config import GRPOSettings
from drift.types import Message, Problem, TrainExample, Trajectory

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

    The completion runs from after the prompt's generation prompt (and the first turn's
    prefill, under the DRIFT formats) to the last assistant token (a template's trailing newline
    is dropped); ``env_mask`` marks the tokens the model wrote with 1 (not later prefills).
    """
    examples = [
        TrainExample(
            id=f"{t.prompt_id}/{t.sample_id}",
            messages=t.messages(),
            loss_turns="all",
            prefill=t.prefill,
        )
        for t in trajectories
    ]
    encoded = encode_examples(tokenizer, examples, max_length=_NO_LIMIT)
    prompts = {(prompt_key(t.prompt), t.prefill): t for t in trajectories}  # groups share one
    prompt_tokens = {key: prompt_ids(tokenizer, t.prompt, t.prefill) for key, t in prompts.items()}
    out: dict[str, list[list[int]]] = {"prompt_ids": [], "completion_ids": [], "env_mask": []}
    for traj, enc in zip(trajectories, encoded, strict=True):
        prompt = prompt_tokens[(prompt_key(traj.prompt), traj.prefill)]
        if enc.input_ids[: len(prompt)] != prompt or 1 in enc.loss_mask[: len(prompt)]:
            raise ValueError(f"episode {enc.id!r}: the prompt is not a prefix of the conversation")
        end = len(enc.loss_mask) - enc.loss_mask[::-1].index(1)
        out["prompt_ids"].append(prompt)
        out["completion_ids"].append(enc.input_ids[len(prompt) : end])
        out["env_mask"].append(enc.loss_mask[len(prompt) : end])
    return out


class EpisodeRollout:
    """TRL ``rollout_func``: multi-turn episodes of the trainer's current policy.

    ``make_engine(model)`` builds the engine for each call (default: :class:`HFEngine`);
    episodes follow ``env`` (default: the oracle protocol) in ``prompt_format`` (``prompt``: the
    DRIFT formats' settings).

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
        prompt_format: PromptFormat = PromptFormat.plain,
        prompt: PromptConfig | None = None,
    ) -> None:
        self.problems = unique_prompts(problems)
        self.env = Environment.from_config(task, env or EnvConfig(), prompt_format, prompt)
        self.phases = phases
        if phases and self.env.protocol != Protocol.intrinsic:
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
        self._count(trajectories, out["env_mask"])
        if self.phases:
            out |= self._phase_returns(trajectories, trainer.state.global_step)
        else:
            self.last_shares = [
                self.env.turn_contributions(t.turns, self.reward) for t in trajectories
            ]
            out["episode_return"] = [t.ret for t in trajectories]
        out["logprobs"] = None
        out["solved_turn"] = [t.solved_turn or 0 for t in trajectories]
        out["final_correct"] = [t.final_correct for t in trajectories]
        return out

    def _count(self, trajectories: list[Trajectory], env_mask: list[list[int]]) -> None:
        """Add a call's episodes, assistant tokens and characters to the cost counters."""
        self.generated_tokens += sum(sum(mask) for mask in env_mask)
        self.generated_chars += sum(len(turn.text) for t in trajectories for turn in t.turns)
        self.episodes += len(trajectories)

    def _phase_returns(self, trajectories: list[Trajectory], step: int) -> dict[str, list[Any]]:
        """``episode_return`` under the phase of optimiser step ``step`` and the 1-based
        ``phase``; keeps the turns' shares of the return (``last_shares``) and the phase."""
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
        return {
            "episode_return": [sum(shares) for shares in self.last_shares],
            "phase": [index + 1] * len(trajectories),
        }

    def cost(self) -> dict[str, float]:
        """What the rollouts generated so far, as ``cost/*`` stats."""
        return {
            "cost/generated_tokens": float(self.generated_tokens),
            "cost/generated_chars": float(self.generated_chars),
            "cost/episodes": float(self.episodes),
        }
