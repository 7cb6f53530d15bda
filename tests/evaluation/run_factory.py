"""Hand-made run directories shaped like what `drift` and Hydra write (results.json,
.hydra/overrides.yaml and config.yaml, <method>/metrics.json)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import yaml

WriteRun = Callable[..., Path]


def write_run(
    run_dir: Path,
    methods: Mapping[str, Mapping[str, float]],
    overrides: Sequence[str] | None = None,
    seed: int | None = None,
    extra: Mapping[str, Mapping[str, float]] | None = None,
) -> Path:
    """results.json (+ .hydra/config.yaml and overrides.yaml when ``overrides`` is not None)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    results = {"methods": {k: dict(v) for k, v in methods.items()}, "wall_seconds": 12.5}
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    for name, metrics in (extra or {}).items():
        (run_dir / name).mkdir(exist_ok=True)
        (run_dir / name / "metrics.json").write_text(json.dumps(dict(metrics)))
    if overrides is not None:
        hydra = run_dir / ".hydra"
        hydra.mkdir(exist_ok=True)
        (hydra / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
        config = {"seed": seed, "name": "drift_iw", "method": {"name": "drift_iw", "beta": 0.1}}
        config["paths"] = {"output_dir": "${hydra:runtime.output_dir}"}
        (hydra / "config.yaml").write_text(yaml.safe_dump(config))
    return run_dir


def acc_metrics(acc1: float, step: float = 0.1, turns: int = 5) -> dict[str, float]:
    """A realistic per-method metrics dict whose acc@k rises by ``step`` per turn."""
    metrics = {f"acc@{k}": round(min(1.0, acc1 + step * (k - 1)), 6) for k in range(1, turns + 1)}
    metrics |= {"correction_rate": 0.3, "repeat_rate": 0.2, "mean_turns": 2.5, "valid_rate": 1.0}
    metrics |= {f"sampled/{k}": v / 2 for k, v in list(metrics.items())[:turns]}
    return metrics


# beta -> acc@1 of seeds 0, 1, 2: beta 0.05 gives mean 0.4 and std 0.2 exactly.
SWEEP_ACC1 = {"0.05": (0.2, 0.4, 0.6), "0.1": (0.5, 0.5, 0.8)}


def write_sweep(root: Path, with_auroc: bool = False) -> Path:
    """A Hydra-style multirun: method.beta=0.05,0.1 x seed=0,1,2 (jobs 0..5) with a demo-like
    reference in each run; returns the sweep directory."""
    sweep = root / "multiruns" / "2025-01-02_03-04-05_drift_iw"
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    job = 0
    for beta, accs in SWEEP_ACC1.items():
        for seed, acc1 in enumerate(accs):
            overrides = ["debug=fast", "method=drift_iw", f"method.beta={beta}", f"seed={seed}"]
            overrides.append(f"paths.log_dir={root}")
            drift_iw = acc_metrics(acc1)
            if with_auroc:
                drift_iw |= {"auroc": 0.6 + 0.1 * seed, "norm_spearman": 0.1 * seed}
            methods = {"reference": acc_metrics(0.1), "drift_iw": drift_iw}
            extra = {"drift_iw": {"steps": 10, "final_loss": 0.5 + seed, "acc@1": -1.0}}
            name = f"{job}_" + ",".join(o for o in overrides if not o.startswith("paths"))
            write_run(sweep / name, methods, overrides, seed, extra)
            job += 1
    return sweep


# method -> (tokens, wall seconds, optimizer steps, sampled acc@5 of seeds 0, 1, 2)
COST_RUNS = {
    "reference": (0, 0, 0, (0.50, 0.50, 0.50)),
    "drift_iw": (500_000, 200, 125, (0.60, 0.62, 0.64)),
    "rft": (500_000, 100, 75, (0.55, 0.60, 0.65)),
    "grpo": (2_000_000, 300, 600, (0.70, 0.70, 0.76)),
}


def write_cost_sweep(root: Path) -> Path:
    """Three seeds of a compare_cost-like run (one job per seed, every method in each) whose
    methods report cost/* beside acc@k; the grpo token count is 1,000 higher each seed."""
    sweep = root / "multiruns" / "2025-01-02_03-04-05_compare_cost"
    for seed in range(3):
        methods = {}
        for name, (tokens, wall, steps, acc5) in COST_RUNS.items():
            metrics = acc_metrics(0.2)
            metrics |= {"sampled/acc@1": 0.1, "sampled/acc@5": acc5[seed]}
            metrics |= {"sampled/correction_rate": 0.2}
            extra = 1_000 * seed if name == "grpo" else 0
            metrics |= {"cost/generated_tokens": tokens + extra, "cost/wall_seconds": wall}
            metrics |= {"cost/optimizer_steps": steps}
            methods[name] = metrics
        write_run(sweep / f"{seed}_seed={seed}", methods, [f"seed={seed}"], seed)
    return sweep
