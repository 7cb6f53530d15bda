"""What a method's W&B run gets besides Lightning's curves: a table of sample trajectories, the
plots of its metrics, and its rollout, weight and score files as artifacts.

Everything is read back from the files the method wrote under its output directory, so the
pipelines only need to hand the logger the files that live elsewhere (the cached rollouts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drift.rollout.store import TrajectoryFile
from drift.types import Trajectory

TABLE_ROWS = 64
TABLE_COLUMNS = [
    "prompt_id",
    "sample_id",
    "prompt",
    "target",
    "turns",
    "answers",
    "correct",
    "solved_turn",
    "return",
    "weight",
    "conversation",
]
# (glob under the method's directory, artifact type); round*/ for iterated DRIFT-IW.
OUTPUT_FILES = (
    ("trajectories.jsonl", "weights"),
    ("round*/trajectories.jsonl", "weights"),
    ("round*/rollouts.jsonl", "rollouts"),
    ("scores.jsonl", "scores"),
    ("scores.parquet", "scores"),
    ("eval/trajectories.jsonl", "evaluation"),
)


def artifact_name(*parts: str) -> str:
    """A W&B artifact name from ``parts`` (only letters, digits, ``-``, ``_`` and ``.``)."""
    return re.sub(r"[^\w.-]+", "-", "-".join(p for p in parts if p))


def sample_table(
    trajectories: Sequence[Trajectory], limit: int = TABLE_ROWS
) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows for up to ``limit`` trajectories spread over the file.

    The columns are :data:`TABLE_COLUMNS`, plus ``influence`` when the trajectories carry
    on-policy influence scores (``method=drift_iw_if``).
    """
    if not trajectories:
        return list(TABLE_COLUMNS), []
    picks = np.unique(np.linspace(0, len(trajectories) - 1, min(limit, len(trajectories))))
    chosen = [trajectories[int(i)] for i in picks]
    if any(t.influence is not None for t in chosen):
        return [*TABLE_COLUMNS, "influence"], [[*_row(t), t.influence] for t in chosen]
    return list(TABLE_COLUMNS), [_row(t) for t in chosen]


def _row(t: Trajectory) -> list[Any]:
    conversation = "\n".join(f"{m['role']}: {m['content']}" for m in t.messages())
    return [
        t.prompt_id,
        t.sample_id,
        t.prompt[-1]["content"] if t.prompt else "",
        t.target,
        len(t.turns),
        " | ".join(str(turn.answer) for turn in t.turns),
        "".join("1" if turn.correct else "0" for turn in t.turns),
        t.solved_turn,
        t.ret,
        t.weight,
        conversation,
    ]


def output_files(out_dir: Path) -> list[tuple[Path, str]]:
    """(file, artifact type) of every rollout, weight, score and evaluation-episode file under
    ``out_dir``."""
    return [(p, kind) for pattern, kind in OUTPUT_FILES for p in sorted(out_dir.glob(pattern))]


def write_method_plots(
    method: str, metrics: dict[str, float], out_dir: Path, seed: int | None
) -> list[Path]:
    """The comparison plots of this one method (acc@k, ranking, scores) in ``out_dir/plots``."""
    from drift.evaluation.aggregate import SummaryRow
    from drift.evaluation.plots import write_plots
    from drift.evaluation.runs import RunRecord

    seeds = (seed,) if seed is not None else ()
    row = SummaryRow(method, "", 1, seeds, dict(metrics), {k: float("nan") for k in metrics})
    scores = next((p for p, kind in output_files(out_dir) if kind == "scores"), None)
    record = RunRecord(method, dict(metrics), seed=seed, run_dir=out_dir, scores_path=scores)
    return write_plots([row], [record], out_dir / "plots")


def log_outputs(
    experiment: Any,
    method: str,
    out_dir: Path,
    metrics: dict[str, float],
    extra_files: list[tuple[Path, str]],
    seed: int | None,
) -> None:
    """Log the trajectory table, the plots and the artifacts of one method to a W&B run."""
    import wandb

    weights = out_dir / "trajectories.jsonl"
    if weights.exists():
        columns, rows = sample_table(TrajectoryFile(weights))
        experiment.log({"trajectories": wandb.Table(columns=columns, data=rows)})
    if metrics:
        plots = write_method_plots(method, metrics, out_dir, seed)
        experiment.log({f"plots/{p.stem}": wandb.Image(str(p)) for p in plots})
    for path, kind in [*extra_files, *output_files(out_dir)]:
        if not path.exists():
            continue
        # Shared files (cached rollouts) keep their own name: W&B stores one version of each.
        rel = path.relative_to(out_dir) if path.is_relative_to(out_dir) else None
        stem = "-".join(rel.with_suffix("").parts) if rel else path.stem
        name = artifact_name(kind, method, stem) if rel else artifact_name(stem)
        artifact = wandb.Artifact(name, type=kind, metadata={"method": method, "file": path.name})
        artifact.add_file(str(path))
        experiment.log_artifact(artifact)
