"""logger=wandb, offline: what a debug-size comparison writes into its W&B run directories.

Offline runs keep everything in the binary ``run-<id>.wandb`` file (a LevelDB-style log of
protobuf records); :func:`read_records` decodes it with wandb's own protobuf classes.
"""

import json
import struct
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from drift.config import load_config
from drift.pipeline.run import run

BLOCK, HEADER = 32768, 7  # LevelDB log: 32 KiB blocks, records with a 7-byte header
FULL, LAST = 1, 4
FAKE_KEY = "drift-test-secret-" + "0" * 22  # 40 characters, like a real API key


def read_records(path: Path) -> list:
    """Every protobuf Record of a ``.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pos, pending = [], HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if left < HEADER or (length == 0 and kind == 0):  # block padding
            pos += left
            continue
        pending += data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def summarise_run(path: Path) -> dict:
    """Name, group, config, history keys, final summary and artifacts of one offline run."""
    out = {"config": {}, "history": set(), "summary": {}, "artifacts": {}}
    for r in read_records(path):
        kind = r.WhichOneof("record_type")
        if kind == "run":
            out.update(name=r.run.display_name, group=r.run.run_group, id=r.run.run_id)
            out.update(entity=r.run.entity, notes=r.run.notes, tags=list(r.run.tags))
            out["config"] = {u.key: json.loads(u.value_json) for u in r.run.config.update}
        elif kind == "history":
            out["history"] |= {i.nested_key[0] if i.nested_key else i.key for i in r.history.item}
        elif kind == "summary":
            for u in r.summary.update:
                out["summary"]["/".join(u.nested_key) or u.key] = json.loads(u.value_json)
        elif kind == "artifact":
            files = [e.path for e in r.artifact.manifest.contents]
            out["artifacts"][r.artifact.name] = (r.artifact.type, files)
    return out


@pytest.mark.slow
def test_offline_wandb_run_holds_config_metrics_table_plots_and_artifacts(
    compose_cfg, tmp_path, monkeypatch
):
    wandb_dir = tmp_path / "wandb-home"
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    for var in ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(var, str(wandb_dir))
    overrides = ["experiment=demo", "debug=fast", "logger=wandb", "logger.name=wandb"]
    overrides += ["~compare.uniform_sft", "~compare.rft", "eval.sampled_samples=0"]
    overrides += ["logger.group=demo-group", "seed=3", "trainer.log_every_n_steps=1"]
    overrides += ["model.warmup.steps=2", "model.warmup.batch_size=16", "trainer.max_steps=2"]
    overrides += ["model.warmup.num_examples=64", "task.num_train=16", "task.num_test=8"]
    overrides += ["++logger.entity=drift-lab", "++logger.id=abc123", "++logger.log_model=true"]
    overrides += ["++logger.tags=[t1]", "++logger.kwargs={notes: from the test}"]
    raw = compose_cfg(overrides)
    cfg = load_config(raw)
    keys = [k for k in raw if k != "hydra"]  # as the CLI's task function sees it
    resolved = OmegaConf.to_container(OmegaConf.masked_copy(raw, keys), resolve=True)
    summary = run(cfg, resolved)

    files = sorted(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))
    runs = {r["name"]: r for r in map(summarise_run, files)}
    assert set(runs) == {"reference-seed3", "drift_iw-seed3"}
    assert {r["group"] for r in runs.values()} == {"demo-group"}  # one comparison, one group
    assert {r["entity"] for r in runs.values()} == {"drift-lab"}  # logger.* reach WandbLogger
    assert {r["id"] for r in runs.values()} == {"abc123-reference", "abc123-drift_iw"}
    assert all(r["notes"] == "from the test" and r["tags"] == ["t1"] for r in runs.values())
    from transformers.utils import logging as hf_logging

    assert not hf_logging.is_progress_bar_enabled()  # drift reports progress itself
    hf_logging.enable_progress_bar()

    trained = runs["drift_iw-seed3"]
    config = trained["config"]
    assert "hydra" not in config and config["seed"] == 3
    assert config["trainer"] == resolved["trainer"] and config["task"] == resolved["task"]
    assert config["method"] == resolved["compare"]["drift_iw"]  # this run's method
    assert {"train/loss", "eval/acc@1", "eval/repeat_rate", "trajectories"} <= trained["history"]
    assert {"plots/acc_at_k"} <= trained["history"]
    stats = {"weights/max", "weights/ess_fraction", "train/final_loss", "cost/optimizer_steps"}
    assert stats | {"cost/generated_tokens", "cost/rollout_seconds"} <= trained["history"]
    metrics = summary["methods"]["drift_iw"]
    assert trained["summary"]["eval/acc@5"] == pytest.approx(metrics["acc@5"])
    turn_metrics = ("eval/acc@t1", "eval/acc@t5", "eval/delta", "eval/delta_i2c", "eval/delta_c2i")
    assert set(turn_metrics) <= trained["history"]
    assert trained["summary"]["eval/delta_c2i"] == metrics["delta_c2i"] == 0.0  # oracle protocol

    arts = trained["artifacts"]
    rollouts = [n for n, (kind, _) in arts.items() if kind == "rollouts"]
    assert len(rollouts) == 1 and (tmp_path / "cache" / f"{rollouts[0]}.jsonl").exists()
    assert arts["weights-drift_iw-trajectories"] == ("weights", ["trajectories.jsonl"])
    assert arts["model-abc123-drift_iw"] == ("model", ["model.ckpt"])  # logger.log_model=true

    tables = list(tmp_path.glob("wandb/offline-run-*/files/media/table/trajectories_*.json"))
    assert len(tables) == 1  # the reference trains nothing: no trajectory table
    table = json.loads(tables[0].read_text())
    assert table["columns"][:3] == ["prompt_id", "sample_id", "prompt"]
    assert {"return", "weight", "answers", "turns"} <= set(table["columns"])
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert len(rows) == min(64, cfg.task.num_train * cfg.rollout.num_samples)
    assert all(r["turns"] == len(r["correct"]) for r in rows)
    written = (tmp_path / "drift_iw" / "trajectories.jsonl").read_text().splitlines()
    weights = {(t["prompt_id"], t["sample_id"]): t["weight"] for t in map(json.loads, written)}
    assert [r["weight"] for r in rows] == [weights[r["prompt_id"], r["sample_id"]] for r in rows]
    assert len({r["prompt_id"] for r in rows}) > 1  # spread over the file, not one prompt

    reference = runs["reference-seed3"]
    assert "eval/acc@1" in reference["history"]
    # trains nothing: its evaluation episodes only, no rollouts, weights or checkpoint
    assert [kind for kind, _ in reference["artifacts"].values()] == ["evaluation"]
    assert not {"weights/max", "train/final_loss"} & reference["history"]

    for path in tmp_path.rglob("*"):  # the API key and the environment stay out of every file
        if path.is_file():
            assert FAKE_KEY.encode() not in path.read_bytes(), path
