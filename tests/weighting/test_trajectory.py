import numpy as np
import pytest

from drift.config import LossTurns, Protocol, RewardConfig, Weighting
from drift.errors import ConfigError
from drift.rollout.env import Environment
from drift.rollout.store import TrajectoryFile, write_trajectories
from drift.types import Trajectory, Turn
from drift.utils.io import DataError
from drift.weighting.trajectory import drift_iw_weights, to_train_examples, trajectory_weights


def _traj(pid: str, sid: int, ret: float, solved: bool) -> Trajectory:
    turns = [Turn(text="<answer>1</answer>", answer="1", correct=solved, valid=True)]
    if not solved:
        turns.append(Turn(text="<answer>2</answer>", answer="2", correct=False, valid=True))
    return Trajectory(
        prompt_id=pid,
        sample_id=sid,
        prompt=[{"role": "user", "content": pid}],
        turns=turns,
        feedback="Incorrect.",
        ret=ret,
    )


# interleaved prompts, so grouping cannot rely on contiguous blocks
TRAJS = [
    _traj("a", 0, 1.0, True),
    _traj("b", 0, -0.2, False),
    _traj("a", 1, 0.9, True),
    _traj("b", 1, 0.81, True),
    _traj("a", 2, -0.35, False),
    _traj("c", 0, 0.5, True),
]


def _direct(trajs: list[Trajectory], beta: float) -> np.ndarray:
    out = []
    for t in trajs:
        same = [u.ret for u in trajs if u.prompt_id == t.prompt_id]
        out.append(np.exp(t.ret / beta) / np.mean(np.exp(np.array(same) / beta)))
    return np.array(out)


@pytest.mark.parametrize("beta", [0.1, 1.0, 3.0])
def test_drift_iw_matches_direct_computation(beta: float) -> None:
    w = trajectory_weights(TRAJS, Weighting.drift_iw, beta)
    np.testing.assert_allclose(w, _direct(TRAJS, beta), rtol=1e-12)
    ids = np.array([t.prompt_id for t in TRAJS])
    for pid in "abc":
        assert w[ids == pid].mean() == pytest.approx(1.0)
    assert w[5] == pytest.approx(1.0)  # a prompt with one sample


def test_drift_iw_stable_for_large_ratios() -> None:
    w = drift_iw_weights(["a", "a", "b", "b"], np.array([100.0, 99.0, -100.0, -100.0]), 0.1)
    assert np.all(np.isfinite(w))
    # R/beta = 1000 vs 990: exp(10) ratio; mean 1 within the prompt
    np.testing.assert_allclose(w[:2], [2 / (1 + np.exp(-10)), 2 / (1 + np.exp(10))])
    np.testing.assert_allclose(w[2:], [1.0, 1.0])


def test_beta_must_be_positive() -> None:
    for weighting in Weighting:
        with pytest.raises(ValueError, match="beta"):
            trajectory_weights(TRAJS, weighting, 0.0)
    with pytest.raises(ValueError, match="beta"):
        trajectory_weights(TRAJS, Weighting.drift_iw, -1.0)


def test_uniform_and_rft() -> None:
    np.testing.assert_array_equal(trajectory_weights(TRAJS, "uniform", 0.1), np.ones(6))
    np.testing.assert_array_equal(trajectory_weights(TRAJS, Weighting.rft, 0.1), [1, 0, 1, 1, 0, 1])
    assert trajectory_weights([], Weighting.drift_iw, 0.1).shape == (0,)


def test_to_train_examples_drops_zero_weight() -> None:
    weights = trajectory_weights(TRAJS, Weighting.rft, 0.1)
    examples = list(to_train_examples(TRAJS, weights, LossTurns.all))
    assert [e.id for e in examples] == ["a/0", "a/1", "b/1", "c/0"]
    assert all(e.weight == 1.0 and e.loss_turns == "all" for e in examples)
    assert examples[0].messages == TRAJS[0].messages()


def test_to_train_examples_keeps_weights_and_checks_shape() -> None:
    weights = trajectory_weights(TRAJS, Weighting.drift_iw, 0.5)
    examples = list(to_train_examples(TRAJS, weights, "final"))
    assert [e.weight for e in examples] == pytest.approx(list(weights))
    assert examples[1].loss_turns == "final" and len(examples[1].messages) == 4
    with pytest.raises(ValueError, match="expected 6 weights"):
        to_train_examples(TRAJS, weights[:3], "final")
    with pytest.raises(ValueError, match="finite"):
        to_train_examples(TRAJS, np.full(6, np.nan), "final")


def test_to_train_examples_reads_a_rollout_file_one_line_at_a_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Examples come from a TrajectoryFile lazily: the first is made before a bad line further
    down is read, and that line's error names the file and line when it is reached."""
    path = tmp_path / "rollouts.jsonl"
    write_trajectories(path, TRAJS)
    with path.open("a") as fh:
        fh.write('{"prompt_id": "d"}\n')
    weights = np.ones(len(TRAJS) + 1)
    examples = to_train_examples(TrajectoryFile(path), weights, "final")
    assert next(examples).id == "a/0"
    with pytest.raises(DataError, match=rf"{path}:7: missing field"):
        list(examples)


def test_intrinsic_episodes_weigh_by_their_shaped_return_and_rft_keeps_right_last_answers():
    # Two-attempt intrinsic episodes of one prompt, alpha = 1: right -> right (R = 1),
    # wrong -> right (R = 1 + 1 = 2), right -> wrong (R = -1), wrong -> wrong (R = 0).
    env = Environment(Protocol.intrinsic, "Check it.", 2, shaping_alpha=1.0)
    plans = [("1", "1"), ("2", "1"), ("1", "2"), ("2", "2")]
    trajs = []
    for k, plan in enumerate(plans):
        turns = [Turn(f"<answer>{a}</answer>", a, a == "1", True) for a in plan]
        ret = env.episode_return(turns, RewardConfig())
        trajs.append(Trajectory("a", k, [{"role": "user", "content": "a"}], turns, "x", "1", ret))
    assert [t.ret for t in trajs] == pytest.approx([1.0, 2.0, -1.0, 0.0])
    beta = 0.5
    expected = np.exp(np.array([1.0, 2.0, -1.0, 0.0]) / beta)
    np.testing.assert_allclose(
        trajectory_weights(trajs, Weighting.drift_iw, beta), expected / expected.mean()
    )
    # rft: the last answer must be right; right -> wrong was solved at turn 1 but is dropped
    assert [t.solved_turn for t in trajs] == [1, 2, 1, None]
    np.testing.assert_array_equal(trajectory_weights(trajs, Weighting.rft, beta), [1, 1, 0, 0])


def test_a_weighting_of_the_users_gives_the_weights() -> None:
    weights = trajectory_weights(TRAJS, "user_plugins:by_sample", 0.1)
    np.testing.assert_array_equal(weights, [1, 1, 2, 2, 3, 1])
    assert weights.dtype == np.float64


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("user_plugins:one_argument", "a weighting must take (trajectories, beta)"),
        ("user_plugins:wrong_length", "a weighting returns one finite weight >= 0 per trajectory"),
        ("user_plugins.nothing", "'user_plugins' has no attribute 'nothing'"),
        ("no_such_module.weigh", "cannot import module 'no_such_module'"),
    ],
)
def test_a_user_weighting_that_breaks_the_contract_is_a_config_error(path, message) -> None:
    with pytest.raises(ConfigError) as err:
        trajectory_weights(TRAJS, path, 0.1)
    assert str(err.value).startswith(f"method.weighting={path}: {message}")
