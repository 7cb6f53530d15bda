import random

import pytest
from authors_returns import parse_actions, replay
from scripted_engine import ScriptedEngine

from drift.config import PromptConfig, RewardConfig
from drift.enums import AnswerFormat, PromptFormat, Protocol
from drift.reward.extract import extract_answer, is_well_formed
from drift.reward.returns import episode_return, judge_turn, turn_contributions
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes
from drift.rollout.engine import SamplingParams
from drift.rollout.env import Environment
from drift.rollout.formats import Renderer
from drift.types import Problem, Turn


def _turn(answer: str | None, correct: bool = False, valid: bool = True) -> Turn:
    return Turn(text="", answer=answer, correct=correct, valid=valid)


def test_judge_turn() -> None:
    turn = judge_turn("<answer> 3 </answer>", "3", exact_match)
    assert (turn.answer, turn.correct, turn.valid, turn.reward) == ("3", True, True, 1.0)
    turn = judge_turn("<answer>3</answer> trailing", "4", exact_match)
    assert (turn.answer, turn.correct, turn.valid, turn.reward) == ("3", False, False, 0.0)
    turn = judge_turn("nothing", "4", exact_match)
    assert (turn.answer, turn.correct, turn.valid) == (None, False, False)


def test_a_malformed_turn_is_never_correct_unless_scored() -> None:
    turn = judge_turn("<answer>3</answer> trailing", "3", exact_match)
    assert (turn.answer, turn.correct, turn.valid, turn.reward) == ("3", False, False, 0.0)
    lenient = judge_turn("<answer>3</answer> trailing", "3", exact_match, score_malformed=True)
    assert (lenient.answer, lenient.correct, lenient.valid, lenient.reward) == (
        "3",
        True,
        False,
        1.0,
    )


def test_judge_turn_never_asks_verifier_about_missing_answer() -> None:
    turn = judge_turn("no answer", "x", lambda pred, gold: True)
    assert not turn.correct


def test_solved_first_turn() -> None:
    assert episode_return([_turn("3", correct=True)], RewardConfig()) == pytest.approx(1.0)


def test_hand_computed_return() -> None:
    # wrong "5", repeated "5", malformed without answer, then correct at turn 4:
    # 0.9**3 - 0.1 * 1 - 0.5 * (1 - 2/3)
    turns = [_turn("5"), _turn(" 5"), _turn(None, valid=False), _turn("3", correct=True)]
    expected = 0.729 - 0.1 - 0.5 / 3
    assert episode_return(turns, RewardConfig()) == pytest.approx(expected)


def test_custom_coefficients_and_unsolved() -> None:
    cfg = RewardConfig(gamma=0.5, format_penalty=0.2, repetition_penalty=1.0)
    turns = [_turn("a"), _turn("A"), _turn("b", valid=False), _turn("c")]
    # no reward; one malformed; answers {a, c} out of the 3 well-formed -> 1 - 2/3
    assert episode_return(turns, cfg) == pytest.approx(-0.2 - 1 / 3)


def test_repetition_counts_well_formed_answers_only_unless_malformed_are_scored() -> None:
    turns = [_turn("a", valid=False), _turn("A", valid=False), _turn("a"), _turn("b")]
    # the authors': two malformed turns, answers {a, b} of the 2 well-formed, no repeat
    assert episode_return(turns, RewardConfig()) == pytest.approx(-0.2)
    # score_malformed: answers {a, b} out of 4 -> 0.5 * (1 - 2/4)
    lenient = RewardConfig(score_malformed=True)
    assert episode_return(turns, lenient) == pytest.approx(-0.2 - 0.25)


def test_no_answers_no_repetition_term() -> None:
    turns = [_turn(None, valid=False), _turn(None, valid=False)]
    assert episode_return(turns, RewardConfig()) == pytest.approx(-0.2)


def test_turn_shares_put_each_term_on_its_turn_and_sum_to_the_return() -> None:
    turns = [_turn("5"), _turn(" 5"), _turn(None, valid=False), _turn("3", correct=True)]
    shares = turn_contributions(turns, RewardConfig())
    assert shares == pytest.approx([0.0, -0.5 / 3, -0.1, 0.729])  # the repeat costs turn 2 only
    assert sum(shares) == pytest.approx(episode_return(turns, RewardConfig()))
    cfg = RewardConfig(gamma=0.5, format_penalty=0.2, repetition_penalty=1.0)
    turns = [_turn("a"), _turn("A"), _turn("b", valid=False), _turn("c")]
    assert turn_contributions(turns, cfg) == pytest.approx([0.0, -1 / 3, -0.2, 0.0])


def test_judge_turn_reads_free_text_answers() -> None:
    turn = judge_turn("59 + 63 = 122.", "122", exact_match, AnswerFormat.last_number)
    assert (turn.answer, turn.correct, turn.valid) == ("122", True, True)
    echo = judge_turn(
        "Incorrect. Please think again.", "122", exact_match, AnswerFormat.last_number
    )
    assert (echo.answer, echo.correct, echo.valid) == (None, False, False)


def test_intrinsic_return_is_the_last_answer_with_scores_shaped_bonus() -> None:
    cfg = RewardConfig()  # gamma 0.9, format 0.1, repetition 0.5
    intrinsic = {"protocol": Protocol.intrinsic}
    right, wrong = _turn("3", correct=True), _turn("5")
    malformed = _turn(None, valid=False)
    # r_T only: gamma and the repetition term do not apply (keeping a right answer is the goal)
    assert episode_return([right, right], cfg, **intrinsic) == pytest.approx(1.0)
    assert episode_return([right, wrong], cfg, **intrinsic) == pytest.approx(0.0)
    assert episode_return([wrong, wrong, right], cfg, **intrinsic) == pytest.approx(1.0)
    assert episode_return([malformed, right], cfg, **intrinsic) == pytest.approx(1.0 - 0.1)
    # SCoRe's bonus alpha (r_T - r_1), alpha = 10: wrong -> right earns 1 + 10, right -> wrong
    # costs 10, an unchanged answer earns r_T
    shaped = {**intrinsic, "shaping_alpha": 10.0}
    assert episode_return([wrong, right], cfg, **shaped) == pytest.approx(11.0)
    assert episode_return([right, wrong], cfg, **shaped) == pytest.approx(-10.0)
    assert episode_return([right, right], cfg, **shaped) == pytest.approx(1.0)
    assert episode_return([wrong, malformed, wrong], cfg, **shaped) == pytest.approx(-0.1)
    assert episode_return([right], cfg, **shaped) == pytest.approx(1.0)  # one turn: no bonus


def test_intrinsic_shares_put_the_bonus_on_the_first_and_last_turns() -> None:
    cfg = RewardConfig()
    turns = [_turn("5"), _turn(None, valid=False), _turn("3", correct=True)]
    shares = turn_contributions(turns, cfg, Protocol.intrinsic, shaping_alpha=0.5)
    assert shares == pytest.approx([0.0, -0.1, 1.5])
    turns = [_turn("3", correct=True), _turn("3", correct=True)]
    shares = turn_contributions(turns, cfg, Protocol.intrinsic, shaping_alpha=0.5)
    assert shares == pytest.approx([-0.5, 1.5])  # returns-to-go: 1.0 from turn 1, 1.5 from 2
    assert sum(shares) == pytest.approx(episode_return(turns, cfg, Protocol.intrinsic, 0.5))
    assert turn_contributions([], cfg, Protocol.intrinsic) == []


def test_intrinsic_turn_weights_weigh_each_attempt_as_scores_stages_do() -> None:
    cfg = RewardConfig()
    right, wrong, malformed = _turn("3", correct=True), _turn("5"), _turn(None, valid=False)
    intrinsic = Protocol.intrinsic
    # stage I: r_2 alone, the default weights
    assert turn_contributions([right, wrong], cfg, intrinsic, 0.0, [0.0, 1.0]) == [0.0, 0.0]
    assert turn_contributions([wrong, right], cfg, intrinsic, 0.0, [0.0, 1.0]) == [0.0, 1.0]
    # stage II: r_1 + r_2 + 10 (r_2 - r_1), the first turn earning r_1 - 10 r_1
    stage2 = (intrinsic, 10.0, [1.0, 1.0])
    assert turn_contributions([right, right], cfg, *stage2) == pytest.approx([-9.0, 11.0])
    assert turn_contributions([wrong, right], cfg, *stage2) == pytest.approx([0.0, 11.0])
    assert turn_contributions([right, wrong], cfg, *stage2) == pytest.approx([-9.0, 0.0])
    assert turn_contributions([malformed, wrong], cfg, *stage2) == pytest.approx([-0.1, 0.0])
    with pytest.raises(ValueError, match="3 turn weights for an episode of 2 turns"):
        turn_contributions([right, right], cfg, intrinsic, 0.0, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="intrinsic protocol only"):
        turn_contributions([right], cfg, Protocol.oracle, 0.0, [1.0])


def _demo_like_reply(rng: random.Random, prefill: str, think: bool) -> str:
    """A reply as the demo's tiny policy writes them (answers 1..9), well formed or not."""
    a = str(rng.randint(1, 9))
    body = rng.choice(
        [
            f"<answer>{a}</answer>",
            f"<answer> {a} </answer>",
            f"<answer>{a}</answer> {a}",  # text after the answer: malformed under plain
            f"<answer>{a}",  # unclosed
            "<answer></answer>",  # empty
            a,  # untagged
            f"<answer>{a}</answer><answer>{rng.randint(1, 9)}</answer>",
            f"<answer>{a} || {rng.randint(1, 9)}</answer>",
        ]
    )
    if think:
        body = rng.choice(["odd.</think> ", "</think>", "no close "]) + body
        return body if prefill else "<think>" + body
    return body[len(prefill) :] if prefill and body.startswith(prefill) else body


@pytest.mark.parametrize(
    ("fmt", "think"),
    [
        (PromptFormat.plain, False),
        (PromptFormat.drift_simple, True),
        (PromptFormat.drift_full, True),
        (PromptFormat.drift_simple, False),
    ],
)
def test_demo_like_episodes_end_and_return_as_the_authors_code_says(
    fmt: PromptFormat, think: bool
) -> None:
    """Episodes through the driver: each ends where the authors' episode ends, with the same
    per-turn verdicts and return (tests/reward/authors_returns.py, from their code)."""
    prompt = PromptConfig(think=think)
    renderer = Renderer(fmt, prompt)
    env = Environment(Protocol.oracle, "Incorrect. Please think again.", 5, renderer=renderer)
    rng = random.Random(0)
    engine = ScriptedEngine(lambda _conv: _demo_like_reply(rng, renderer.prefill, think))
    problems = [
        Problem(f"p{i}", [{"role": "user", "content": f"{i} 3 odd"}], str(i % 9 + 1))
        for i in range(60)
    ]
    trajectories = run_episodes(
        engine, problems, 16, SamplingParams(1.0, 1.0, 32, 0), env, exact_match, RewardConfig()
    )
    if fmt == PromptFormat.plain:  # drift's own format: its tags rule (README, "Methods")

        def parse(text: str) -> list[str]:
            return [extract_answer(text) or ""] if is_well_formed(text) else []
    else:

        def parse(text: str) -> list[str]:
            return parse_actions(text, think)

    malformed = malformed_answered = 0
    for traj in trajectories:
        texts = [turn.text for turn in traj.turns]
        authors = replay(texts, traj.target, parse)
        assert authors.done, traj.to_dict()
        assert [int(t.correct) for t in traj.turns] == authors.verifier
        assert traj.ret == pytest.approx(authors.episode_return(), abs=1e-12), traj.to_dict()
        malformed += sum(not t.valid for t in traj.turns)
        malformed_answered += sum(not t.valid and t.answer is not None for t in traj.turns)
    assert malformed > 0
    # under plain, the turns where drift's earlier rule gave another verdict or return
    assert malformed_answered > 0 or fmt != PromptFormat.plain
