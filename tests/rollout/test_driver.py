from collections import Counter

import pytest
from scripted_engine import ScriptedEngine

from drift.config import RewardConfig
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes, turn_params
from drift.rollout.engine import SamplingParams
from drift.types import Message, Problem

FEEDBACK = "Incorrect. Please think again."
PARAMS = SamplingParams(1.0, 1.0, 8, 7)


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
    trajs = run_episodes(engine, problems, 2, PARAMS, FEEDBACK, 5, exact_match, RewardConfig())
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
        engine, [_problem("p", "3")], 1, PARAMS, FEEDBACK, 3, exact_match, RewardConfig()
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
    run_episodes(engine, [_problem("p", "z")], 1, PARAMS, FEEDBACK, 3, exact_match, RewardConfig())
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
            Short(), [_problem("p", "1")], 2, PARAMS, FEEDBACK, 2, exact_match, RewardConfig()
        )


def test_prompt_not_aliased() -> None:
    problem = _problem("p", "1")
    engine = _scripted({"p": [["<answer>1</answer>[ok]"]]})
    (traj,) = run_episodes(engine, [problem], 1, PARAMS, FEEDBACK, 2, exact_match, RewardConfig())
    traj.prompt[0]["content"] = "mutated"
    assert problem.messages[0]["content"] == "p"
