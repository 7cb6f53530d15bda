"""Multi-turn episodes with a fixed-feedback environment (README, "Methods")."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from drift.config import RewardConfig
from drift.enums import AnswerFormat
from drift.reward.returns import episode_return, judge_turn
from drift.reward.verifiers import Verifier
from drift.rollout.engine import Engine, SamplingParams
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
    feedback: str,
    max_turns: int,
    verifier: Verifier,
    reward: RewardConfig,
    answer_format: AnswerFormat = AnswerFormat.TAGS,
) -> list[Trajectory]:
    """``num_samples`` episodes per problem, ordered by problem then sample id.

    Each turn sends every still-active episode of every problem to the engine in ONE
    ``generate`` call. An episode ends at its first correct answer or after ``max_turns``
    answers; a wrong answer with turns left is followed by the ``feedback`` user turn. Answers
    are read in ``answer_format`` (the task's).
    """
    if num_samples <= 0 or max_turns <= 0:
        raise ValueError(f"num_samples and max_turns must be > 0, got {num_samples}, {max_turns}")
    episodes = [(p, s) for p in problems for s in range(num_samples)]
    convs: list[list[Message]] = [[dict(m) for m in p.messages] for p, _ in episodes]
    turns: list[list[Turn]] = [[] for _ in episodes]
    active = list(range(len(episodes)))
    for t in range(max_turns):
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
            if not turn.correct and t + 1 < max_turns:
                convs[i].append({"role": "user", "content": feedback})
                still.append(i)
        active = still
    return [
        Trajectory(
            prompt_id=p.id,
            sample_id=s,
            prompt=[dict(m) for m in p.messages],
            turns=ts,
            feedback=feedback,
            target=p.answer,
            ret=episode_return(ts, reward),
            weight=1.0,
        )
        for (p, s), ts in zip(episodes, turns, strict=True)
    ]
