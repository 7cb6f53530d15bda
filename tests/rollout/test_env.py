import pytest

from drift.config import EnvConfig, Protocol, RewardConfig, TaskConfig
from drift.rollout.env import Environment
from drift.types import Turn

RIGHT = Turn("<answer>1</answer>", "1", True, True)
WRONG = Turn("<answer>2</answer>", "2", False, True)


def test_from_config_picks_the_message_of_the_protocol() -> None:
    task = TaskConfig(feedback="No.", max_turns=3)
    oracle = Environment.from_config(task, EnvConfig())
    assert (oracle.protocol, oracle.message, oracle.max_turns) == (Protocol.oracle, "No.", 3)
    env = EnvConfig(protocol=Protocol.intrinsic, instruction="Check it.", shaping_alpha=2.0)
    intrinsic = Environment.from_config(task, env)
    assert (intrinsic.message, intrinsic.max_turns, intrinsic.shaping_alpha) == (
        "Check it.",
        3,
        2.0,
    )
    assert Environment.oracle("No.", 3) == oracle


def test_next_user_turn() -> None:
    oracle = Environment.oracle("No.", 3)
    assert oracle.next_user_turn([WRONG]) == "No."
    assert oracle.next_user_turn([WRONG, RIGHT]) is None  # solved: the episode ends
    assert oracle.next_user_turn([WRONG, WRONG, WRONG]) is None  # out of turns
    intrinsic = Environment(Protocol.intrinsic, "Check it.", 3)
    assert intrinsic.next_user_turn([RIGHT]) == "Check it."  # the verdict is never shown
    assert intrinsic.next_user_turn([RIGHT, WRONG]) == "Check it."
    assert intrinsic.next_user_turn([RIGHT, WRONG, RIGHT]) is None
    with pytest.raises(ValueError, match="max_turns"):
        Environment.oracle("No.", 0)


def test_returns_follow_the_protocol() -> None:
    reward = RewardConfig()
    turns = [WRONG, RIGHT]
    assert Environment.oracle("No.", 2).episode_return(turns, reward) == pytest.approx(0.9)
    shaped = Environment(Protocol.intrinsic, "Check it.", 2, shaping_alpha=1.5)
    assert shaped.episode_return(turns, reward) == pytest.approx(1.0 + 1.5)
    assert shaped.turn_contributions(turns, reward) == pytest.approx([0.0, 2.5])
