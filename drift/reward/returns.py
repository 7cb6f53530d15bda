"""Judge turns and compute an episode's return (README, "Methods")."""

from __future__ import annotations

from collections.abc import Callable

from drift.config import RewardConfig
from drift.enums import AnswerFormat, Protocol
from drift.reward.extract import normalize_answer, read_answer
from drift.reward.verifiers import Verifier
from drift.types import Turn


def judge_turn(
    text: str,
    target: str,
    verifier: Verifier,
    answer_format: AnswerFormat = AnswerFormat.tags,
    reader: Callable[[str], tuple[str | None, bool]] | None = None,
    score_malformed: bool = False,
) -> Turn:
    """Extract the answer of one assistant turn (``answer_format``, or ``reader`` when given: a
    prompt format's rule), verify it, check its format.

    A malformed turn is never correct, as the DRIFT authors define it (their episode runs no
    action for it); ``score_malformed`` verifies the answer of a malformed turn all the same
    (``reward.score_malformed``, drift's rule before issue 14). The answer is kept either way.
    """
    answer, valid = reader(text) if reader is not None else read_answer(text, answer_format)
    judged = answer is not None and (valid or score_malformed)
    correct = bool(verifier(answer, target)) if judged else False
    return Turn(
        text=text,
        answer=answer,
        correct=correct,
        valid=valid,
        reward=1.0 if correct else 0.0,
    )


def turn_contributions(
    turns: list[Turn],
    cfg: RewardConfig,
    protocol: Protocol = Protocol.oracle,
    shaping_alpha: float = 0.0,
    turn_weights: list[float] | tuple[float, ...] | None = None,
) -> list[float]:
    """Each turn's share of :func:`episode_return` (the shares sum to it).

    Under the ``oracle`` protocol turn t (1-based) earns gamma^(t-1) r_t, minus
    ``format_penalty`` if it is malformed, minus ``repetition_penalty / answers`` if its answer
    equals an earlier one ("answers": the well-formed turns' answers, as the DRIFT authors count
    them; with ``cfg.score_malformed`` every extracted answer, malformed turns' included).

    Under ``intrinsic`` (every episode runs all T turns, README "Protocols") the return is the
    last answer's correctness plus SCoRe's shaped bonus, r_T + ``shaping_alpha`` * (r_T - r_1),
    minus ``format_penalty`` per malformed turn: the last turn earns (1 + alpha) r_T, the first
    -alpha r_1 (one turn: r_1), each malformed turn -format_penalty. ``gamma`` does not apply,
    and neither does the repetition term: there a repeated answer is often a right answer kept,
    which the protocol asks for. ``turn_weights`` (intrinsic only; one per turn) generalise the
    first term to sum_t w_t r_t, turn t earning w_t r_t: the default weighs the last turn only
    (r_T). SCoRe's stage II weighs both attempts, r_1 + r_2 + alpha (r_2 - r_1)
    (:mod:`drift.training.grpo`).

    The return earned from turn t on is the sum of shares t, t+1, ...
    """
    if protocol == Protocol.intrinsic:
        weights = [0.0] * (len(turns) - 1) + [1.0] if turn_weights is None else list(turn_weights)
        if turns and len(weights) != len(turns):
            raise ValueError(f"{len(weights)} turn weights for an episode of {len(turns)} turns")
        shares = [
            w * float(turn.correct) - (0.0 if turn.valid else cfg.format_penalty)
            for w, turn in zip(weights, turns, strict=False)
        ]
        if turns:
            shares[0] -= shaping_alpha * float(turns[0].correct)
            shares[-1] += shaping_alpha * float(turns[-1].correct)
        return shares
    if turn_weights is not None:
        raise ValueError("turn_weights apply to the intrinsic protocol only")
    answers = [
        normalize_answer(turn.answer)
        if turn.answer is not None and (turn.valid or cfg.score_malformed)
        else None
        for turn in turns
    ]
    answered = sum(answer is not None for answer in answers)
    seen: set[str] = set()
    shares = []
    for t, (turn, answer) in enumerate(zip(turns, answers, strict=True)):
        share = cfg.gamma**t if turn.correct else 0.0
        share -= 0.0 if turn.valid else cfg.format_penalty
        if answer is not None:
            share -= cfg.repetition_penalty / answered if answer in seen else 0.0
            seen.add(answer)
        shares.append(share)
    return shares


def episode_return(
    turns: list[Turn],
    cfg: RewardConfig,
    protocol: Protocol = Protocol.oracle,
    shaping_alpha: float = 0.0,
) -> float:
    """The return of one episode, the sum of :func:`turn_contributions`.

    ``oracle``: R = sum_t gamma^(t-1) r_t - format_penalty * #malformed - rep_penalty * (1 -
    unique/answers), r_t = 1 for a correct turn; "answers" are the well-formed turns' answers
    (every extracted one with ``cfg.score_malformed``), compared after :func:`normalize_answer`;
    with no answer at all the repetition term is 0. ``intrinsic``: R = r_T + shaping_alpha *
    (r_T - r_1) - format_penalty * #malformed.
    """
    return sum(turn_contributions(turns, cfg, protocol, shaping_alpha))
