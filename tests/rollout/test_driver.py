from collections import Counter

import pytest
from scripted_engine import ScriptedEngine

from drift.config import Protocol, RewardConfig
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes, turn_params
from drift.rollout.engine import SamplingParams
from drift.rollout.env import Environment
from drift.types import Message, Problem

FEEDBACK = "Incorrect. Please think again."
PARAMS = SamplingParams(1.0, 1.0, 8, 7)


def _oracle(max_turns: int) -> Environment:
    return Environment.oracle(FEEDBACK, max_turns)


def _problem(pid: str, answer: str) -> Problem:
    return Problem(id=pid, messages=[{"role": "user", "content": pid}], answer=answer)


def _scripted(plans: dict[str, list[list[str]]]) -> ScriptedEngine:
    """plans[prompt][sample] = replies by turn; the k-th call with a prompt at a turn is sample k
    among the still-active ones (the driver keeps problem/sample order)."""
    seen: Counter[tuple[str, int]] = Counter()
    active: dict[tuple[str, int], list[int]] = {}

    def reply(conv: list[Message]) -> str:
        pid, turn = conv[0]["content"], sum(m["role"] == "assistant" for m in conv)
        if turn == 0:
            active[(pid, 0)] = list(range(len(plans[pid])))
        k = seen[(pid, turn)]
        seen[(pid, turn)] += 1
        sample = active[(pid, turn)][k]
        text = plans[pid][sample][turn]
        if not text.endswith("[ok]"):
            active.setdefault((pid, turn + 1), []).append(sample)
        return text.removesuffix("[ok]")

    return ScriptedEngine(reply)


def test_one_call_per_turn_with_every_active_episode() -> None:
    plans = {
        "p": [["<answer>1</answer>[ok]"], ["<answer>2</answer>", "<answer>1</answer>[ok]"]],
        "q": [["x", "<answer>5</answer>", "<answer>9</answer>[ok]"], ["<answer>9</answer>[ok]"]],
    }
    engine = _scripted(plans)
    problems = [_problem("p", "1"), _problem("q", "9")]
    trajs = run_episodes(engine, problems, 2, PARAMS, _oracle(5), exact_match, RewardConfig())
    assert [len(call[0]) for call in engine.calls] == [4, 2, 1]
    turn2 = engine.calls[1][0]
    assert turn2[0] == [
        {"role": "user", "content": "p"},
        {"role": "assistant", "content": "<answer>2</answer>"},
        {"role": "user", "content": FEEDBACK},
    ]
    assert [c[0]["content"] for c in turn2] == ["p", "q"]
    assert [(t.prompt_id, t.sample_id, t.solved_turn) for t in trajs] == [
        ("p", 0, 1),
        ("p", 1, 2),
        ("q", 0, 3),
        ("q", 1, 1),
    ]
    assert trajs[2].ret == pytest.approx(0.81 - 0.1)
    assert trajs[1].ret == pytest.approx(0.9)
    assert all(t.weight == 1.0 and t.feedback == FEEDBACK for t in trajs)
    assert [t.target for t in trajs] == ["1", "1", "9", "9"]


def test_max_turns_and_returns() -> None:
    wrong = ["<answer>5</answer>", "<answer>5</answer>", "oops"]
    engine = _scripted({"p": [wrong]})
    (traj,) = run_episodes(
        engine, [_problem("p", "3")], 1, PARAMS, _oracle(3), exact_match, RewardConfig()
    )
    assert len(engine.calls) == 3
    assert [t.answer for t in traj.turns] == ["5", "5", None]
    assert traj.solved_turn is None
    # never correct; one malformed turn; answers {5} out of 2
    assert traj.ret == pytest.approx(-0.1 - 0.5 * 0.5)
    messages = traj.messages()
    assert len(messages) == 1 + 3 + 2 and messages[-1]["content"] == "oops"


def test_turn_seeds_differ_and_are_deterministic() -> None:
    engine = _scripted({"p": [["a", "b", "c"]]})
    run_episodes(engine, [_problem("p", "z")], 1, PARAMS, _oracle(3), exact_match, RewardConfig())
    seeds = [call[1].seed for call in engine.calls]
    assert len(set(seeds)) == 3
    assert seeds == [turn_params(PARAMS, t).seed for t in range(3)]
    assert all(call[1].temperature == PARAMS.temperature for call in engine.calls)
    unseeded = SamplingParams(1.0, 1.0, 8, None)
    assert turn_params(unseeded, 2) is unseeded


def test_engine_reply_count_checked() -> None:
    class Short:
        def generate(self, conversations, params):  # type: ignore[no-untyped-def]
            return []

    with pytest.raises(RuntimeError, match="0 replies for 2"):
        run_episodes(
            Short(), [_problem("p", "1")], 2, PARAMS, _oracle(2), exact_match, RewardConfig()
        )


def test_prompt_not_aliased() -> None:
    problem = _problem("p", "1")
    engine = _scripted({"p": [["<answer>1</answer>[ok]"]]})
    (traj,) = run_episodes(engine, [problem], 1, PARAMS, _oracle(2), exact_match, RewardConfig())
    traj.prompt[0]["content"] = "mutated"
    assert problem.messages[0]["content"] == "p"


INSTRUCTION = "Review your answer and correct it."


def test_intrinsic_runs_every_turn_and_never_shows_the_verdict() -> None:
    replies = {
        0: ["<answer>1</answer>", "<answer>1</answer>", "<answer>2</answer>"],  # right, kept, lost
        1: ["<answer>2</answer>", "oops", "<answer>1</answer>"],  # wrong, malformed, right
    }

    def reply(conv: list[Message]) -> str:
        sample = int(conv[0]["content"][-1])
        return replies[sample][sum(m["role"] == "assistant" for m in conv)]

    engine = ScriptedEngine(reply)
    problems = [_problem("p0", "1"), _problem("p1", "1")]
    env = Environment(Protocol.intrinsic, INSTRUCTION, 3, shaping_alpha=0.5)
    trajs = run_episodes(engine, problems, 1, PARAMS, env, exact_match, RewardConfig())
    assert [len(call[0]) for call in engine.calls] == [2, 2, 2]  # nobody stops early
    last_call = engine.calls[-1][0]
    assert [m["content"] for m in last_call[0] if m["role"] == "user"][1:] == [INSTRUCTION] * 2
    assert all(FEEDBACK not in m["content"] for conv in last_call for m in conv)
    assert [[t.correct for t in traj.turns] for traj in trajs] == [
        [True, True, False],
        [False, False, True],
    ]
    assert [t.solved_turn for t in trajs] == [1, 3]
    assert [t.final_correct for t in trajs] == [False, True]
    # r_T + 0.5 (r_T - r_1) - 0.1 per malformed turn; gamma and the repeat of "1" do not count
    assert trajs[0].ret == pytest.approx(0.0 + 0.5 * (0.0 - 1.0))
    assert trajs[1].ret == pytest.approx(1.0 + 0.5 * (1.0 - 0.0) - 0.1)
    assert all(t.feedback == INSTRUCTION for t in trajs)
    assert trajs[1].messages()[:-1] == last_call[1]  # the file replays what the model saw


def test_oracle_and_intrinsic_share_the_driver_up_to_the_first_correct_answer() -> None:
    def reply(conv: list[Message]) -> str:
        return "<answer>1</answer>" if len(conv) > 1 else "<answer>2</answer>"

    problems = [_problem("p", "1")]
    oracle = run_episodes(
        ScriptedEngine(reply), problems, 1, PARAMS, _oracle(4), exact_match, RewardConfig()
    )
    env = Environment(Protocol.intrinsic, FEEDBACK, 4)
    intrinsic = run_episodes(
        ScriptedEngine(reply), problems, 1, PARAMS, env, exact_match, RewardConfig()
    )
    assert [t.text for t in oracle[0].turns] == [t.text for t in intrinsic[0].turns[:2]]
    assert len(oracle[0].turns) == 2 and len(intrinsic[0].turns) == 4
