"""Multi-turn evaluation: acc@k, per-turn accuracy and its changes, correction, repeat and echo
rates (README, "Methods" and "Protocols"; definitions with a worked example in docs/metrics.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from drift.config import EnvConfig, EvalConfig, PromptConfig, RewardConfig, TaskConfig
from drift.reward.extract import normalize_answer
from drift.reward.verifiers import Verifier
from drift.rollout.driver import run_episodes
from drift.rollout.engine import Engine, SamplingParams
from drift.rollout.env import Environment
from drift.types import Message, Problem, Trajectory
from drift.utils.progress import PlainProgress, RichProgress, progress


def echoes_feedback(text: str, feedback: str) -> bool:
    """True when a reply starts with the feedback's first sentence ("Incorrect." for "Incorrect.
    Please think again."), case and surrounding whitespace ignored: the model talks back."""
    opening = feedback.strip().split(".")[0].strip().lower()
    return bool(opening) and text.strip().lower().startswith(opening)


def _turn_table(trajectories: Sequence[Trajectory], width: int) -> dict[str, np.ndarray]:
    """Per-turn [N, width] bool arrays: present, correct, valid, answered, repeat, echo."""
    shape = (len(trajectories), width)
    keys = ("present", "correct", "valid", "answered", "repeat", "echo")
    table = {k: np.zeros(shape, dtype=bool) for k in keys}
    for i, traj in enumerate(trajectories):
        seen: set[str] = set()
        for t, turn in enumerate(traj.turns):
            table["present"][i, t] = True
            table["correct"][i, t] = turn.correct
            table["valid"][i, t] = turn.valid
            table["echo"][i, t] = echoes_feedback(turn.text, traj.feedback)
            if turn.answer is not None:
                answer = normalize_answer(turn.answer)
                table["answered"][i, t] = True
                table["repeat"][i, t] = answer in seen
                seen.add(answer)
    return table


def _rate(num: int | np.integer, den: int | np.integer) -> float:
    return float(num) / float(den) if den else 0.0


def standing_correct(trajectories: Sequence[Trajectory], max_turns: int) -> np.ndarray:
    """[N, max_turns] bool: whether the answer each episode stands on at turn t is correct.

    That is the answer given at turn t, or, for an episode that ended before turn t, its last
    answer: under the oracle protocol an episode ends at its first correct answer, which it
    keeps (so this is acc@t's "solved within t turns"); under intrinsic every episode answers
    at every turn. An episode without turns is wrong at every turn; a malformed turn is wrong.
    """
    correct = np.zeros((len(trajectories), max_turns), dtype=bool)
    for i, traj in enumerate(trajectories):
        flags = [turn.correct for turn in traj.turns[:max_turns]]
        if flags:
            correct[i, : len(flags)] = flags
            correct[i, len(flags) :] = flags[-1]
    return correct


def turn_change_metrics(trajectories: Sequence[Trajectory], max_turns: int) -> dict[str, float]:
    """Per-turn accuracy and how it changes from the first turn to turn T = ``max_turns``
    (SCoRe's metrics; docs/metrics.md), over the episodes, on :func:`standing_correct`:

    - ``acc@t{t}`` (t = 1..T): accuracy of the answer given at turn t (Acc@t);
    - ``delta``: acc@tT - acc@t1, Δ(t1, tT);
    - ``delta_i2c``: fraction of episodes wrong at turn 1 and right at turn T, Δi→c;
    - ``delta_c2i``: fraction right at turn 1 and wrong at turn T, Δc→i (always 0 under the
      oracle protocol, where an episode right at turn 1 stops and keeps that answer).

    ``delta = delta_i2c - delta_c2i``.
    """
    if max_turns <= 0:
        raise ValueError(f"max_turns must be > 0, got {max_turns}")
    standing = standing_correct(trajectories, max_turns)  # [N, T]
    first, last = standing[:, 0], standing[:, -1]
    metrics = {f"acc@t{t}": float(standing[:, t - 1].mean()) for t in range(1, max_turns + 1)}
    metrics["delta"] = float(last.mean() - first.mean())
    metrics["delta_i2c"] = float(np.mean(~first & last))
    metrics["delta_c2i"] = float(np.mean(first & ~last))
    return metrics


def episode_metrics(trajectories: Sequence[Trajectory], max_turns: int) -> dict[str, float]:
    """acc@k (k = 1..max_turns), correction_rate, correction_rate@t{t} (t = 2..max_turns),
    repeat_rate, echo_rate, mean_turns, valid_rate, mean_return, then
    :func:`turn_change_metrics` (acc@t1.., delta, delta_i2c, delta_c2i).

    acc@k: episodes with a correct answer within the first k turns. correction_rate: wrong turns
    that have a next turn, followed by a correct one (pooled over the turns).
    correction_rate@t{t} (t = 2..max_turns): among the episodes wrong at turn t-1 that have a
    turn t, the share right at turn t (the DRIFT authors' per-turn rate). repeat_rate: answers at
    turn >= 2 equal to an earlier answer of the episode, over answers at turn >= 2. echo_rate:
    replies at turn >= 2 that start by echoing the user turn before them
    (:func:`echoes_feedback`), over replies at turn >= 2. A rate with an empty denominator is 0.
    """
    if not trajectories:
        raise ValueError("episode_metrics needs at least one trajectory")
    width = max(max_turns, max(len(t.turns) for t in trajectories))
    tab = _turn_table(trajectories, width)
    solved = np.array([t.solved_turn or np.inf for t in trajectories], dtype=np.float64)  # [N]
    metrics = {f"acc@{k}": float(np.mean(solved <= k)) for k in range(1, max_turns + 1)}
    wrong_with_next = tab["present"][:, :-1] & ~tab["correct"][:, :-1] & tab["present"][:, 1:]
    metrics["correction_rate"] = _rate(
        (wrong_with_next & tab["correct"][:, 1:]).sum(), wrong_with_next.sum()
    )
    for t in range(2, max_turns + 1):  # the DRIFT authors' per-turn rate
        wrong_before = wrong_with_next[:, t - 2]
        metrics[f"correction_rate@t{t}"] = _rate(
            (wrong_before & tab["correct"][:, t - 1]).sum(), wrong_before.sum()
        )
    later = tab["answered"][:, 1:]
    metrics["repeat_rate"] = _rate((later & tab["repeat"][:, 1:]).sum(), later.sum())
    metrics["echo_rate"] = _rate(tab["echo"][:, 1:].sum(), tab["present"][:, 1:].sum())
    num_turns = tab["present"].sum()
    metrics["mean_turns"] = float(num_turns) / len(trajectories)
    metrics["valid_rate"] = _rate(tab["valid"].sum(), num_turns)
    metrics["mean_return"] = float(np.mean([t.ret for t in trajectories]))
    metrics.update(turn_change_metrics(trajectories, max_turns))
    return metrics


GREEDY, SAMPLED = "greedy", "sampled"
"""The decodings of an evaluation: the keys of :func:`evaluation_episodes`."""


def evaluation_episodes(
    engine: Engine,
    problems: list[Problem],
    eval_cfg: EvalConfig,
    task: TaskConfig,
    env: EnvConfig,
    verifier: Verifier,
    reward: RewardConfig,
    seed: int,
    prompt: PromptConfig | None = None,
) -> dict[str, list[Trajectory]]:
    """The evaluation's episodes by decoding: ``greedy`` (one per problem, if
    ``eval_cfg.greedy``) and ``sampled`` (``eval_cfg.sampled_samples`` per problem at
    ``eval_cfg.temperature``, if > 0); they follow ``env.protocol``
    (:class:`~drift.rollout.env.Environment`) in ``eval_cfg.prompt_format`` (``prompt``: the
    DRIFT formats' settings)."""
    environment = Environment.from_config(task, env, eval_cfg.prompt_format, prompt)

    def run(decoding: str, num_samples: int, temperature: float) -> list[Trajectory]:
        params = SamplingParams(temperature, 1.0, eval_cfg.max_new_tokens, seed)
        with progress(environment.max_turns, f"eval {decoding} (turns)") as bar:
            counted = _TurnProgress(engine, bar)
            out = run_episodes(
                counted,
                problems,
                num_samples,
                params,
                environment,
                verifier,
                reward,
                answer_format=task.answer_format,
            )
            bar.advance(environment.max_turns - counted.turns)  # every episode ended early
        return out

    episodes: dict[str, list[Trajectory]] = {}
    if eval_cfg.greedy:
        episodes[GREEDY] = run(GREEDY, 1, 0.0)
    if eval_cfg.sampled_samples > 0:
        episodes[SAMPLED] = run(SAMPLED, eval_cfg.sampled_samples, eval_cfg.temperature)
    return episodes


class _TurnProgress:
    """``engine`` advancing ``bar`` by one after each turn's batched ``generate`` call."""

    def __init__(self, engine: Engine, bar: PlainProgress | RichProgress) -> None:
        self.engine, self.bar, self.turns = engine, bar, 0

    def generate(self, conversations: Sequence[list[Message]], params: SamplingParams) -> list[str]:
        texts = self.engine.generate(conversations, params)
        self.turns += 1
        self.bar.advance()
        return texts


def evaluation_metrics(
    episodes: Mapping[str, Sequence[Trajectory]], max_turns: int
) -> dict[str, float]:
    """:func:`episode_metrics` of each decoding of :func:`evaluation_episodes`: the greedy
    episodes' as they are, the sampled episodes' prefixed ``sampled/``."""
    metrics: dict[str, float] = {}
    if GREEDY in episodes:
        metrics.update(episode_metrics(episodes[GREEDY], max_turns))
    if SAMPLED in episodes:
        sampled = episode_metrics(episodes[SAMPLED], max_turns)
        metrics.update({f"{SAMPLED}/{k}": v for k, v in sampled.items()})
    return metrics
