"""Multi-turn episodes in an :class:`~drift.rollout.env.Environment` (README, "Methods")."""

from __future__ import annotations

from dataclasses import replace

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


def run_episodes(
    engine: Engine,
    problems: list[Problem],
    num_samples: int,
    params: SamplingParams,
    env: Environment,
    verifier: Verifier,
    reward: RewardConfig,
    answer_format: AnswerFormat = AnswerFormat.TAGS,
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
    episodes = [(p, s) for p in problems for s in range(num_samples)]
    prompts = {p.id: env.initial_messages(p) for p in problems}
    convs: list[list[Message]] = [[dict(m) for m in prompts[p.id]] for p, _ in episodes]
    turns: list[list[Turn]] = [[] for _ in episodes]
    prefill = env.prefill
    start = [{"role": "assistant", "content": prefill}] if prefill else []

    def reader(text: str) -> tuple[str | None, bool]:  # the format's rule, or answer_format's
        return env.read(text, answer_format)

    active = list(range(len(episodes)))
    for t in range(env.max_turns):
        if not active:
            break
        requests = [convs[i] + [dict(m) for m in start] for i in active]
        texts = engine.generate(requests, turn_params(params, t))
        if len(texts) != len(active):
            raise RuntimeError(f"engine returned {len(texts)} replies for {len(active)} prompts")
        still = []
        for i, reply in zip(active, texts, strict=True):
            text = prefill + reply
            turn = judge_turn(
                text, episodes[i][0].answer, verifier, answer_format, reader, reward.score_malformed
            )
            turns[i].append(turn)
            convs[i].append({"role": "assistant", "content": text})
            user = env.next_user_turn(turns[i])
            if user is not None:
                convs[i].append({"role": "user", "content": user})
                still.append(i)
        active = still
    return [
        Trajectory(
            prompt_id=p.id,
            sample_id=s,
            prompt=[dict(m) for m in prompts[p.id]],
            turns=ts,
            feedback=env.message,
            target=p.answer,
            ret=env.episode_return(ts, reward),
            weight=1.0,
            users=_users(conv) if env.renderer.drift else None,
            prefill=prefill,
        )
        for (p, s), ts, conv in zip(episodes, turns, convs, strict=True)
    ]


def _users(conv: list[Message]) -> list[str]:
    """The user turns after the first assistant turn of ``conv``, in order."""
    first = next(i for i, m in enumerate(conv) if m["role"] == "assistant")
    return [m["content"] for m in conv[first:] if m["role"] == "user"]
