"""Judge turns and compute an episode's return (DESIGN §1.2)."""

from __future__ import annotations

from drift.config import RewardConfig
from drift.reward.extract import extract_answer, is_well_formed, normalize_answer
from drift.reward.verifiers import Verifier
from drift.types import Turn


def judge_turn(text: str, target: str, verifier: Verifier) -> Turn:
    """Extract the answer of one assistant turn, verify it and check its format."""
    answer = extract_answer(text)
    correct = bool(verifier(answer, target)) if answer is not None else False
    return Turn(
        text=text,
        answer=answer,
        correct=correct,
        valid=is_well_formed(text),
        reward=1.0 if correct else 0.0,
    )


def episode_return(turns: list[Turn], cfg: RewardConfig) -> float:
    """R = sum_t gamma^(t-1) r_t - format_penalty * #malformed - rep_penalty * (1 - unique/answers).

    r_t = 1 for a correct turn; "answers" are the extracted (non-None) answers, compared after
    :func:`normalize_answer`; with no answer at all the repetition term is 0.
    """
    gain = sum(cfg.gamma**t for t, turn in enumerate(turns) if turn.correct)
    malformed = sum(not turn.valid for turn in turns)
    answers = [normalize_answer(t.answer) for t in turns if t.answer is not None]
    repeated = 1.0 - len(set(answers)) / len(answers) if answers else 0.0
    return gain - cfg.format_penalty * malformed - cfg.repetition_penalty * repeated
