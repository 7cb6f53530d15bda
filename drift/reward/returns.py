"""Judge turns and compute an episode's return (README, "Methods")."""

from __future__ import annotations

from drift.config import RewardConfig
from drift.enums import AnswerFormat
from drift.reward.extract import normalize_answer, read_answer
from drift.reward.verifiers import Verifier
from drift.types import Turn


def judge_turn(
    text: str, target: str, verifier: Verifier, answer_format: AnswerFormat = AnswerFormat.TAGS
) -> Turn:
    """Extract the answer of one assistant turn (``answer_format``), verify it, check its format."""
    answer, valid = read_answer(text, answer_format)
    correct = bool(verifier(answer, target)) if answer is not None else False
    return Turn(
        text=text,
        answer=answer,
        correct=correct,
        valid=valid,
        reward=1.0 if correct else 0.0,
    )


def turn_contributions(turns: list[Turn], cfg: RewardConfig) -> list[float]:
    """Each turn's share of :func:`episode_return` (the shares sum to it).

    Turn t (1-based) earns gamma^(t-1) r_t, minus ``format_penalty`` if it is malformed, minus
    ``repetition_penalty / answers`` if its answer equals an earlier one ("answers": the turns
    with an extracted answer). The return earned from turn t on is the sum of shares t, t+1, ...
    """
    answered = sum(turn.answer is not None for turn in turns)
    seen: set[str] = set()
    shares = []
    for t, turn in enumerate(turns):
        share = cfg.gamma**t if turn.correct else 0.0
        share -= 0.0 if turn.valid else cfg.format_penalty
        if turn.answer is not None:
            answer = normalize_answer(turn.answer)
            share -= cfg.repetition_penalty / answered if answer in seen else 0.0
            seen.add(answer)
        shares.append(share)
    return shares


def episode_return(turns: list[Turn], cfg: RewardConfig) -> float:
    """R = sum_t gamma^(t-1) r_t - format_penalty * #malformed - rep_penalty * (1 - unique/answers).

    r_t = 1 for a correct turn; "answers" are the extracted (non-None) answers, compared after
    :func:`normalize_answer`; with no answer at all the repetition term is 0. The sum of
    :func:`turn_contributions`.
    """
    return sum(turn_contributions(turns, cfg))
