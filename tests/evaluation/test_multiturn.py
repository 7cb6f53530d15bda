import logging
from typing import Any

import pytest
from scripted_engine import ScriptedEngine

from drift.config import EnvConfig, EvalConfig, Protocol, RewardConfig, TaskConfig
from drift.evaluation.multiturn import (
    echoes_feedback,
    episode_metrics,
    evaluation_episodes,
    evaluation_metrics,
    standing_correct,
    turn_change_metrics,
)
from drift.reward.verifiers import exact_match
from drift.types import Message, Problem, Trajectory, Turn


def _traj(answers: list[str | None], target: str = "3", ret: float = 0.0) -> Trajectory:
    turns = [
        Turn(
            text="" if a is None else f"<answer>{a}</answer>",
            answer=a,
            correct=a == target,
            valid=a is not None,
        )
        for a in answers
    ]
    return Trajectory("p", 0, [{"role": "user", "content": "q"}], turns, "no", target, ret)


def test_hand_built_metrics() -> None:
    trajs = [
        _traj(["3"], ret=1.0),  # solved at 1
        _traj(["1", "3"], ret=0.9),  # corrected at 2
        _traj(["1", "1", None, "2"], ret=-0.5),  # repeat, malformed, never solved
        _traj(["2", "4", "2", "3"], ret=0.2),  # solved at 4 after a repeat
    ]
    m = episode_metrics(trajs, max_turns=4)
    assert [m[f"acc@{k}"] for k in range(1, 5)] == [0.25, 0.5, 0.5, 0.75]
    # wrong turns with a next turn: 1 + 3 + 3 = 7; followed by a correct one: 2
    assert m["correction_rate"] == pytest.approx(2 / 7)
    # per turn (the DRIFT authors' rate): wrong at turn t-1 and going on -> right at turn t
    assert m["correction_rate@t2"] == pytest.approx(1 / 3)  # 3 wrong at turn 1, 1 fixed
    assert m["correction_rate@t3"] == 0.0  # 2 wrong at turn 2, none fixed
    assert m["correction_rate@t4"] == pytest.approx(1 / 2)  # 2 wrong at turn 3 (1 malformed)
    assert "correction_rate@t1" not in m and "correction_rate@t5" not in m
    # answers at turn >= 2: "3" | "1", "2" | "4", "2", "3" = 6; repeats: "1", "2" = 2
    assert m["repeat_rate"] == pytest.approx(2 / 6)
    assert m["mean_turns"] == pytest.approx(11 / 4)
    assert m["valid_rate"] == pytest.approx(10 / 11)
    assert m["mean_return"] == pytest.approx(0.4)


def test_echo_rate_counts_replies_that_talk_back() -> None:
    feedback = "Incorrect. Please think again."
    assert echoes_feedback("  incorrect. I will try again", feedback)
    assert not echoes_feedback("It is not incorrect: 5", feedback)
    assert not echoes_feedback("anything", "")
    turns = [Turn("7", "7", False, True), Turn("Incorrect.", None, False, False)]
    talks_back = Trajectory("p", 0, [], turns, feedback, "3")
    retries = Trajectory("p", 1, [], [turns[0], Turn("3", "3", True, True)], feedback, "3")
    m = episode_metrics([talks_back, retries, _traj(["3"])], max_turns=2)
    assert m["echo_rate"] == pytest.approx(1 / 2)  # two replies at turn 2, one echo


def test_acc_at_k_monotone_and_empty_rates() -> None:
    m = episode_metrics([_traj(["3"]), _traj(["1"])], max_turns=3)
    accs = [m[f"acc@{k}"] for k in range(1, 4)]
    assert accs == sorted(accs) == [0.5, 0.5, 0.5]
    assert m["correction_rate"] == 0.0 and m["repeat_rate"] == 0.0 and m["echo_rate"] == 0.0
    with pytest.raises(ValueError):
        episode_metrics([], 3)


def _metrics(engine: ScriptedEngine, problems: list[Problem], *args: Any) -> dict[str, float]:
    """The metrics of an evaluation: its episodes' :func:`evaluation_metrics`."""
    task = args[1]
    return evaluation_metrics(evaluation_episodes(engine, problems, *args), task.max_turns)


def test_evaluation_greedy_and_sampled() -> None:
    def reply(conv: list[Message]) -> str:  # right on the second try
        return "<answer>3</answer>" if len(conv) > 1 else "<answer>1</answer>"

    engine = ScriptedEngine(reply)
    problems = [
        Problem(id=f"p{i}", messages=[{"role": "user", "content": "q"}], answer="3")
        for i in range(5)
    ]
    task = TaskConfig(max_turns=3)
    eval_cfg = EvalConfig(sampled_samples=2, temperature=0.7, max_new_tokens=9)
    m = _metrics(engine, problems, eval_cfg, task, EnvConfig(), exact_match, RewardConfig(), 1)
    assert m["acc@1"] == 0.0 and m["acc@2"] == 1.0 and m["sampled/acc@2"] == 1.0
    assert m["correction_rate"] == 1.0
    assert m["correction_rate@t2"] == 1.0 and m["correction_rate@t3"] == 0.0  # none reach t3
    # acc@k, per-turn correction rates, rates, acc@tk, deltas; greedy and sampled
    assert len(m) == 2 * (3 + 2 + 6 + 3 + 3)
    greedy, sampled = engine.calls[0], engine.calls[2]
    assert len(greedy[0]) == 5 and greedy[1].temperature == 0.0
    assert greedy[1].max_new_tokens == 9
    assert len(sampled[0]) == 10 and sampled[1].temperature == 0.7
    assert engine.calls[1][0][0][-1]["content"] == task.feedback


def test_oracle_turn_metrics_carry_a_solved_answer_forward() -> None:
    # Under the oracle protocol an episode stops at its first correct answer: it has no answer
    # at later turns and stands on the correct one, so acc@tk = acc@k and nothing turns wrong.
    trajs = [
        _traj(["3"]),  # right at 1
        _traj(["1", "3"]),  # corrected at 2
        _traj(["1", "1", None, "2"]),  # never right
        _traj(["2", "4", "2", "3"]),  # corrected at 4
    ]
    assert standing_correct(trajs, 4).tolist() == [
        [True, True, True, True],
        [False, True, True, True],
        [False, False, False, False],
        [False, False, False, True],
    ]
    m = episode_metrics(trajs, max_turns=4)
    assert [m[f"acc@t{t}"] for t in range(1, 5)] == [0.25, 0.5, 0.5, 0.75]
    assert [m[f"acc@t{t}"] for t in range(1, 5)] == [m[f"acc@{k}"] for k in range(1, 5)]
    assert m["delta"] == pytest.approx(0.5)
    assert m["delta_i2c"] == 0.5 and m["delta_c2i"] == 0.0


def test_intrinsic_turn_metrics_on_the_worked_example() -> None:
    # docs/metrics.md's worked example: five two-attempt episodes, target 3.
    trajs = [
        _traj(["3", "3"]),  # right, kept
        _traj(["1", "3"]),  # wrong -> right
        _traj(["3", "1"]),  # right -> wrong
        _traj(["1", "2"]),  # wrong, changed, still wrong
        _traj(["1", "1"]),  # wrong, unchanged
    ]
    m = episode_metrics(trajs, max_turns=2)
    assert (m["acc@t1"], m["acc@t2"]) == (0.4, 0.4)
    assert m["delta"] == pytest.approx(0.0)
    assert (m["delta_i2c"], m["delta_c2i"]) == (0.2, 0.2)
    assert (m["acc@1"], m["acc@2"]) == (0.4, 0.6)  # cumulative: some answer right by turn k
    assert m["correction_rate"] == pytest.approx(1 / 3)  # wrong first answers: 3, fixed: 1
    assert m["repeat_rate"] == pytest.approx(2 / 5)  # second answers equal to the first: 2
    assert m["mean_turns"] == 2.0


def test_oracle_turn_metrics_on_the_worked_example() -> None:
    # The same first answers under the oracle protocol: right ones end their episode.
    trajs = [_traj(["3"]), _traj(["1", "3"]), _traj(["3"]), _traj(["1", "2"]), _traj(["1", "1"])]
    m = episode_metrics(trajs, max_turns=2)
    assert (m["acc@1"], m["acc@2"]) == (0.4, 0.6)
    assert (m["acc@t1"], m["acc@t2"]) == (0.4, 0.6)  # A and C stand on their first answer
    assert m["delta"] == pytest.approx(0.2)
    assert (m["delta_i2c"], m["delta_c2i"]) == (0.2, 0.0)
    assert m["correction_rate"] == pytest.approx(1 / 3)
    assert m["repeat_rate"] == pytest.approx(1 / 3)  # second answers: B, D, E; E repeats
    assert m["mean_turns"] == pytest.approx(1.6)


def test_turn_metrics_edge_cases() -> None:
    # a malformed answer is wrong; turns past max_turns are not read; no turns: wrong throughout
    trajs = [_traj(["3", None]), _traj(["1", "3", "1"]), _traj([])]
    m = turn_change_metrics(trajs, max_turns=2)
    assert (m["acc@t1"], m["acc@t2"]) == pytest.approx((1 / 3, 1 / 3))
    assert (m["delta_i2c"], m["delta_c2i"]) == pytest.approx((1 / 3, 1 / 3))
    assert m["delta"] == pytest.approx(m["delta_i2c"] - m["delta_c2i"])
    one = turn_change_metrics(trajs, max_turns=1)  # T = 1: nothing can change
    assert one == {"acc@t1": pytest.approx(1 / 3), "delta": 0.0, "delta_i2c": 0.0, "delta_c2i": 0.0}
    with pytest.raises(ValueError, match="max_turns"):
        turn_change_metrics(trajs, max_turns=0)


def test_evaluation_under_the_intrinsic_protocol() -> None:
    def reply(conv: list[Message]) -> str:  # right first, then talked out of it
        return "<answer>3</answer>" if len(conv) == 1 else "<answer>1</answer>"

    engine = ScriptedEngine(reply)
    problems = [
        Problem(id=f"p{i}", messages=[{"role": "user", "content": "q"}], answer="3")
        for i in range(4)
    ]
    task = TaskConfig(max_turns=3)
    env = EnvConfig(protocol=Protocol.intrinsic, instruction="Check it.")
    eval_cfg = EvalConfig(sampled_samples=0)
    m = _metrics(engine, problems, eval_cfg, task, env, exact_match, RewardConfig(), 1)
    assert [len(call[0]) for call in engine.calls] == [4, 4, 4]  # every episode, every turn
    assert engine.calls[1][0][0][-1] == {"role": "user", "content": "Check it."}
    assert (m["acc@t1"], m["acc@t2"], m["acc@t3"]) == (1.0, 0.0, 0.0)
    assert (m["delta"], m["delta_i2c"], m["delta_c2i"]) == (-1.0, 0.0, 1.0)
    assert m["acc@3"] == 1.0 and m["mean_turns"] == 3.0
    assert m["mean_return"] == 0.0  # the last answer is wrong
    assert m["repeat_rate"] == pytest.approx(1 / 2)  # "1" at turn 3 repeats turn 2


def test_evaluation_follows_eval_prompt_format() -> None:
    from drift.config import PromptConfig
    from drift.enums import PromptFormat

    def reply(conv: list[Message]) -> str:  # continues the <think> prefill; right on try two
        assert conv[-1] == {"role": "assistant", "content": "<think>"}
        return "x</think><answer>3</answer>" if len(conv) > 3 else "x</think><answer>1</answer>"

    engine = ScriptedEngine(reply)
    problems = [Problem(id="p", messages=[{"role": "user", "content": "q"}], answer="3")]
    eval_cfg = EvalConfig(sampled_samples=0, prompt_format=PromptFormat.drift_simple)
    task = TaskConfig(max_turns=3)
    prompt = PromptConfig(system="S")
    m = _metrics(
        engine, problems, eval_cfg, task, EnvConfig(), exact_match, RewardConfig(), 1, prompt
    )
    assert m["acc@1"] == 0.0 and m["acc@2"] == 1.0
    first, second = engine.calls[0][0][0], engine.calls[1][0][0]
    assert (
        first[0] == {"role": "system", "content": "S"} and "Problem:\nq\n\n" in first[1]["content"]
    )
    assert second[-2] == {"role": "user", "content": task.feedback}  # simple: feedback alone


def test_evaluation_episodes_are_kept_by_decoding() -> None:
    engine = ScriptedEngine(lambda conv: "<answer>3</answer>" if len(conv) > 1 else "no")
    problems = [
        Problem(id=f"p{i}", messages=[{"role": "user", "content": "q"}], answer="3")
        for i in range(3)
    ]
    task, eval_cfg = TaskConfig(max_turns=2), EvalConfig(sampled_samples=2)
    args = (problems, eval_cfg, task, EnvConfig(), exact_match, RewardConfig(), 1)
    episodes = evaluation_episodes(engine, *args)
    assert {k: len(v) for k, v in episodes.items()} == {"greedy": 3, "sampled": 6}
    assert [t.solved_turn for t in episodes["greedy"]] == [2, 2, 2]
    only_sampled = evaluation_episodes(engine, problems, EvalConfig(greedy=False), *args[2:])
    assert list(only_sampled) == ["sampled"]
    assert all(k.startswith("sampled/") for k in evaluation_metrics(only_sampled, 2))


def test_the_evaluation_reports_its_progress_turn_by_turn(caplog) -> None:
    engine = ScriptedEngine(lambda conv: "<answer>3</answer>")  # right at once: one turn of 3
    problems = [Problem(id="p", messages=[{"role": "user", "content": "q"}], answer="3")]
    caplog.set_level(logging.INFO, logger="drift.utils.progress")
    task, eval_cfg = TaskConfig(max_turns=3), EvalConfig(sampled_samples=1)
    evaluation_episodes(
        engine, problems, eval_cfg, task, EnvConfig(), exact_match, RewardConfig(), 0
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "drift.utils.progress"]
    assert [line.split(" (")[0] for line in lines] == [
        "eval greedy",
        "eval greedy",
        "eval sampled",
        "eval sampled",
    ]
    assert "(turns): 1/3" in lines[0] and "(turns): 3/3 (100%)" in lines[1]
