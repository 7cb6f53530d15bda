from drift.pipeline.wandb_extras import TABLE_COLUMNS, artifact_name, output_files, sample_table
from drift.types import Trajectory, Turn


def _trajectory(i: int, influence: float | None = None) -> Trajectory:
    turns = [Turn("<a>12</a>", "12", False, True), Turn("<a>34</a>", "34", True, True)]
    return Trajectory(
        prompt_id=f"p{i}",
        sample_id=0,
        prompt=[{"role": "user", "content": f"q{i}"}],
        turns=turns,
        feedback="Incorrect. Please think again.",
        target="34",
        ret=0.9,
        weight=0.5 + i,
        influence=influence,
    )


def test_table_spreads_rows_over_the_file_and_fills_every_column():
    columns, rows = sample_table([_trajectory(i) for i in range(100)], limit=10)
    assert columns == TABLE_COLUMNS and len(rows) == 10
    first, last = (dict(zip(columns, r, strict=True)) for r in (rows[0], rows[-1]))
    assert (first["prompt_id"], last["prompt_id"]) == ("p0", "p99")
    assert first["answers"] == "12 | 34" and first["correct"] == "01"
    assert first["solved_turn"] == 2 and first["weight"] == 0.5
    assert "assistant: <a>12</a>\nuser: Incorrect." in first["conversation"]


def test_influence_column_appears_only_with_influence_scores():
    columns, rows = sample_table([_trajectory(i, influence=i / 10) for i in range(3)])
    assert columns == [*TABLE_COLUMNS, "influence"]
    assert [r[-1] for r in rows] == [0.0, 0.1, 0.2]
    assert sample_table([])[0] == TABLE_COLUMNS


def test_artifact_names_keep_only_safe_characters():
    assert artifact_name("weights", "drift_iw", "round1/traj") == "weights-drift_iw-round1-traj"


def test_a_methods_weights_and_evaluation_episodes_are_its_artifacts(tmp_path):
    for name in ("trajectories.jsonl", "eval/trajectories.jsonl", "policy/config.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}\n")
    assert output_files(tmp_path) == [
        (tmp_path / "trajectories.jsonl", "weights"),
        (tmp_path / "eval" / "trajectories.jsonl", "evaluation"),
    ]
