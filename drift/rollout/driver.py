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
    answers). Answers are read in ``answer_format`` (the task's); returns are ``env``'s.
    """
    if num_samples <= 0:
        raise ValueError(f"num_samples must be > 0, got {num_samples}")
    episodes = [(p, s) for p in problems for s in range(num_samples)]
    convs: list[list[Message]] = [[dict(m) for m in p.messages] for p, _ in episodes]
    turns: list[list[Turn]] = [[] for _ in episodes]
    active = list(range(len(episodes)))
    for t in range(env.max_turns):
        if not active:
            break
        texts = engine.generate([convs[i] for i in active], turn_params(params, t))
        if len(texts) != len(active):
            raise RuntimeError(f"engine returned {len(texts)} replies for {len(active)} prompts")
        still = []
        for i, text in zip(active, texts, strict=True):
            turn = judge_turn(text, episodes[i][0].answer, verifier, answer_format)
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
            prompt=[dict(m) for m in p.messages],
            turns=ts,
            feedback=env.message,
            target=p.answer,
            ret=env.episode_return(ts, reward),
            weight=1.0,
        )
        for (p, s), ts in zip(episodes, turns, strict=True)
    ]
