"""Multi-turn episodes in an :class:`~drift.rollout.env.Environment` (README, "Methods")."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from drift.config import RewardConfig
from drift.enums import AnswerFormat
from drift.reward.returns import judge_turn
from drift.reward.verifiers import Verifier
from drift.rollout.engine import Engine, SamplingParams
from drift.rollout.env import Environment
from drift.types import Message, Problem, Trajectory, Turn


def turn_params(params: SamplingParams, turn: int) -> SamplingParams:
    """The params of 0-based ``turn``: a distinct seed per turn so turns draw fresh noise."""
    if params.seed is None:
        return params
    seed = int(np.random.SeedSequence([params.seed, turn]).generate_state(1)[0])
    return replace(params, seed=seed)


@dataclass
class _Episode:
    """One episode in progress: its problem, sample id, conversation so far and judged turns."""

    problem: Problem
    sample_id: int
    conv: list[Message]
    turns: list[Turn] = field(default_factory=list)


def run_episodes(
    engine: Engine,
    problems: list[Problem],
    num_samples: int,
    params: SamplingParams,
    env: Environment,
    verifier: Verifier,
    reward: RewardConfig,
    answer_format: AnswerFormat = AnswerFormat.tags,
) -> list[Trajectory]:
    """``num_samples`` episodes per problem, ordered by problem then sample id.

    Each turn sends every still-active episode of every problem to the engine in ONE
    ``generate`` call. After each answer ``env`` says the next user turn or ends the episode
    (:meth:`~drift.rollout.env.Environment.next_user_turn`: under the oracle protocol an
    episode ends at its first correct answer or after ``env.max_turns`` answers, a wrong answer
    with turns left getting the feedback; under intrinsic every episode runs ``env.max_turns``
    answers). Answers are read in ``answer_format`` (the task's) unless ``env``'s prompt format
    has its own rule; returns are ``env``'s.

    The conversation opens with ``env``'s prompt format (:mod:`drift.rollout.formats`). Under a
    format with a prefill each request ends with an assistant message holding it, which the
    engine continues; the turn's text is prefill + reply.
    """
    if num_samples <= 0:
        raise ValueError(f"num_samples must be > 0, got {num_samples}")
    prompts = {p.id: env.initial_messages(p) for p in problems}
    episodes = [
        _Episode(p, s, [dict(m) for m in prompts[p.id]])
        for p in problems
        for s in range(num_samples)
    ]
    active = episodes
    for t in range(env.max_turns):
        if not active:
            break
        replies = _generate(engine, active, env.prefill, turn_params(params, t))
        active = [
            episode
            for episode, reply in zip(active, replies, strict=True)
            if _answer(episode, env.prefill + reply, env, verifier, reward, answer_format)
        ]
    return [_trajectory(e, prompts[e.problem.id], env, reward) for e in episodes]


def _generate(
    engine: Engine, active: list[_Episode], prefill: str, params: SamplingParams
) -> list[str]:
    """One reply per active episode from a single ``generate`` call; under a prefill each
    request ends with an assistant message holding it."""
    start = [{"role": "assistant", "content": prefill}] if prefill else []
    requests = [e.conv + [dict(m) for m in start] for e in active]
    texts = engine.generate(requests, params)
    if len(texts) != len(active):
        raise RuntimeError(f"engine returned {len(texts)} replies for {len(active)} prompts")
    return texts


def _answer(
    episode: _Episode,
    text: str,
    env: Environment,
    verifier: Verifier,
    reward: RewardConfig,
    answer_format: AnswerFormat,
) -> bool:
    """Judge the assistant turn ``text`` and add it to ``episode`` with the user turn ``env``
    says next; whether the episode goes on."""
    reader = partial(env.read, answer_format=answer_format)  # the format's rule, or the task's
    turn = judge_turn(
        text, episode.problem.answer, verifier, answer_format, reader, reward.score_malformed
    )
    episode.turns.append(turn)
    episode.conv.append({"role": "assistant", "content": text})
    user = env.next_user_turn(episode.turns)
    if user is None:
        return False
    episode.conv.append({"role": "user", "content": user})
    return True


def _trajectory(
    episode: _Episode, prompt: list[Message], env: Environment, reward: RewardConfig
) -> Trajectory:
    """The finished ``episode`` with its return under ``env``."""
    return Trajectory(
        prompt_id=episode.problem.id,
        sample_id=episode.sample_id,
        prompt=[dict(m) for m in prompt],
        turns=episode.turns,
        feedback=env.message,
        target=episode.problem.answer,
        ret=env.episode_return(episode.turns, reward),
        weight=1.0,
        users=_users(episode.conv) if env.renderer.drift else None,
        prefill=env.prefill,
    )


def _users(conv: list[Message]) -> list[str]:
    """The user turns after the first assistant turn of ``conv``, in order."""
    first = next(i for i, m in enumerate(conv) if m["role"] == "assistant")
    return [m["content"] for m in conv[first:] if m["role"] == "user"]
