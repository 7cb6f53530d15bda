import pytest
from scripted_engine import ScriptedEngine

from drift.config import EnvConfig, EvalConfig, RewardConfig, TaskConfig
from drift.evaluation.multiturn import echoes_feedback, episode_metrics, evaluate_policy
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


def test_evaluate_policy_greedy_and_sampled() -> None:
    def reply(conv: list[Message]) -> str:  # right on the second try
        return "<answer>3</answer>" if len(conv) > 1 else "<answer>1</answer>"

    engine = ScriptedEngine(reply)
    problems = [
        Problem(id=f"p{i}", messages=[{"role": "user", "content": "q"}], answer="3")
        for i in range(5)
    ]
    task = TaskConfig(max_turns=3)
    eval_cfg = EvalConfig(sampled_samples=2, temperature=0.7, max_new_tokens=9)
    m = evaluate_policy(
        engine, problems, eval_cfg, task, EnvConfig(), exact_match, RewardConfig(), seed=1
    )
    assert m["acc@1"] == 0.0 and m["acc@2"] == 1.0 and m["sampled/acc@2"] == 1.0
    assert m["correction_rate"] == 1.0
    assert len(m) == 2 * (3 + 6)
    greedy, sampled = engine.calls[0], engine.calls[2]
    assert len(greedy[0]) == 5 and greedy[1].temperature == 0.0
    assert greedy[1].max_new_tokens == 9
    assert len(sampled[0]) == 10 and sampled[1].temperature == 0.7
    assert engine.calls[1][0][0][-1]["content"] == task.feedback
