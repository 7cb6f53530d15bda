"""The attribution study (issue 4): pool -> warm-up -> features -> scores -> selection -> retrain
-> evaluation, for every method of ``cfg.methods()`` (family ``attribution``).

1. An SFT pool with planted, labelled corruption from the embedded task or from
   ``task=arithmetic`` in the model's chat format (:mod:`.attribution_pool`), and validation
   queries from the val split.
2. A warm-up of the base on the pool with AdamW snapshots (:mod:`.attribution_warmup`).
3. Features computed once and cached (:mod:`.attribution_features`); on-policy validation
   rollouts of the warmed model (cached too).
4. Per method: scores (:mod:`.attribution_scores`), refinement with the same budget
   (``study.keep_fraction`` for ``refinement: top``), ``<run_dir>/<method>/scores.jsonl``,
   a retrain from the same base for ``study.retrain_steps`` steps, the shared evaluation.
   ``full`` (``scoring: null``) trains on the whole pool.
5. ``results.json``: per method ``auroc`` (clean above corrupted; ``auroc/<kind>`` per kind),
   ``norm_spearman`` (rank correlation of scores with the exact ‖g_z‖), the evaluation
   metrics (``acc@1`` greedy, ``sampled/acc@1``, ...), selection and cost statistics; plus
   score-only entries ``<drift_if method>[debias=<mode>]`` for ``study.debias_ablation``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

import lightning
import numpy as np

from drift.attribution.directions import MethodSkipped
from drift.attribution.scoring_config import Refinement, ScoringMethod
from drift.attribution.select import drop_negative, scores_to_weights, select_top
from drift.config import ConfigError, DriftConfig, MethodConfig, MethodFamily
from drift.data.pool import Pool
from drift.evaluation.ranking import auroc, spearman
from drift.evaluation.report import markdown_table, print_table
from drift.models.factory import export_hf
from drift.pipeline.attribution_features import FeatureBank, feature_device
from drift.pipeline.attribution_pool import StudyTask, study_pool, study_queries, study_task
from drift.pipeline.attribution_scores import StudyData, drift_if_scores, score
from drift.pipeline.attribution_warmup import ensure_warmup, load_base, study_trainer
from drift.pipeline.cache_keys import cache_key, episodes_config
from drift.pipeline.evaluate import evaluate_policy_dir
from drift.pipeline.loggers import build_loggers, close_loggers, log_metrics
from drift.pipeline.rollouts import ensure_rollouts, validation_config
from drift.rollout.prompts import load_prompts
from drift.training.fit import train_policy
from drift.types import Problem, Trajectory
from drift.utils.io import write_json, write_jsonl

log = logging.getLogger(__name__)

ON_POLICY = (ScoringMethod.drift_if, ScoringMethod.prism)


def columns(task: StudyTask) -> tuple[str, ...]:
    """The printed table's columns: ranking, accuracy, AUROC per corruption kind, kept share."""
    per_kind = tuple(f"auroc/{k.value}" for k in task.kinds)
    return ("auroc", "acc@1", "sampled/acc@1", "norm_spearman", *per_kind, "kept/corrupted_share")


def check_methods(cfg: DriftConfig) -> dict[str, MethodConfig]:
    """The study's methods; every one must be of the attribution family and share the budget."""
    methods = cfg.methods()
    for name, method in methods.items():
        if method.family != MethodFamily.attribution:
            raise ConfigError(
                f"method {name}: family={method.family.value} cannot run in an attribution "
                "study; compare attribution methods only"
            )
        s = method.scoring
        top = s is not None and s.refinement == Refinement.top
        if top and not math.isclose(s.fraction, cfg.study.keep_fraction):
            raise ConfigError(
                f"method {name}: scoring.fraction={s.fraction} differs from "
                f"study.keep_fraction={cfg.study.keep_fraction}; every method keeps the "
                "same budget (set scoring.fraction: ${study.keep_fraction})"
            )
    study_task(cfg)  # the task has a pool source and the corruption kinds exist in it
    return methods


def validation_rollouts(
    cfg: DriftConfig, policy_dir: Path, queries: list[Problem]
) -> list[Trajectory]:
    """``study.rollouts_per_query`` episodes of ``study.val_max_turns`` turns per query, cached
    by the warm-up's policy (in the cache: keyed by its name there) and the queries' ids."""
    vcfg = validation_config(cfg, cfg.study.rollouts_per_query, cfg.study.val_max_turns)
    config = {
        "artifact": "attr-rollouts",
        **episodes_config(vcfg, str(policy_dir), None),
        "queries": [q.id for q in queries],
    }
    path = Path(cfg.paths.cache_dir) / f"attr-rollouts-{cache_key(config)}.jsonl"
    return list(ensure_rollouts(vcfg, str(policy_dir), queries, path, config).trajectories)


def refine(
    scores: np.ndarray | None, method: MethodConfig, keep_fraction: float, n: int
) -> np.ndarray:
    """SFT weights [N]: 0/1 for a selection, real weights for ``refinement: weights``."""
    if scores is None or method.scoring is None:
        return np.ones(n)
    refinement = Refinement(method.scoring.refinement)
    if refinement is Refinement.top:
        return select_top(scores, keep_fraction).astype(np.float64)
    if refinement is Refinement.drop_negative:
        return drop_negative(scores).astype(np.float64)
    s = method.scoring
    return scores_to_weights(scores, s.weight_mode, s.temperature)


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def ranking_metrics(scores: np.ndarray, pool: Pool, norms: np.ndarray) -> dict[str, Any]:
    """AUROC of clean above corrupted (overall and per kind) and Spearman with ‖g_z‖."""
    clean = ~pool.corrupted
    kinds = np.array(pool.kinds)
    out: dict[str, Any] = {"auroc": None}
    if clean.any() and (~clean).any():
        out["auroc"] = auroc(scores, clean)
    for kind in sorted(set(pool.kinds) - {"clean"}):
        mask = clean | (kinds == kind)
        out[f"auroc/{kind}"] = auroc(scores[mask], clean[mask]) if clean.any() else None
    out["norm_spearman"] = _finite_or_none(spearman(scores, norms)) if len(scores) > 1 else None
    return out


def write_scores(
    path: Path, pool: Pool, scores: np.ndarray, norms: np.ndarray, weights: np.ndarray
) -> None:
    """``<method>/scores.jsonl``: id, score, grad_norm, corrupted, kind, kept, weight."""
    write_jsonl(
        path,
        (
            {
                "id": ex.id,
                "score": float(s),
                "grad_norm": float(g),
                "corrupted": kind != "clean",
                "kind": kind,
                "kept": bool(w > 0),
                "weight": float(w),
            }
            for ex, kind, s, g, w in zip(
                pool.examples, pool.kinds, scores, norms, weights, strict=True
            )
        ),
    )


def retrain(
    cfg: DriftConfig,
    pool: Pool,
    weights: np.ndarray,
    method: MethodConfig,
    out_dir: Path,
    loggers: list[Any],
) -> tuple[str, dict[str, float]]:
    """Fine-tune the base on the kept examples (with their weights) for the shared step budget."""
    keep = np.flatnonzero(weights > 0)
    examples = [dataclasses.replace(pool.examples[i], weight=float(weights[i])) for i in keep]
    model, tokenizer = load_base(cfg)
    trainer = study_trainer(cfg, cfg.study.retrain_steps, len(examples))
    result = train_policy(
        model, tokenizer, examples, trainer, method.normalize, out_dir, cfg.seed, loggers
    )
    merge = cfg.model.lora.merge_on_export if cfg.model.lora is not None else True
    policy = export_hf(result.model, tokenizer, out_dir / "policy", merge_lora=merge)
    w = weights / weights.sum()
    stats = {
        "kept": float(len(keep)),
        "kept/corrupted_share": float(w[pool.corrupted].sum()),
        "train/final_loss": result.final_loss,
        "cost/train_seconds": result.wall_seconds,
    }
    return str(policy), stats


def run_method(
    cfg: DriftConfig,
    name: str,
    method: MethodConfig,
    data: StudyData,
    pool: Pool,
    test: list[Problem],
    run_dir: Path,
    resolved: dict[str, Any],
) -> dict[str, Any]:
    """Score, refine, retrain and evaluate one method; its results.json entry."""
    out_dir = run_dir / name
    start = time.perf_counter()
    try:
        scores, stats = score(data, method.scoring) if method.scoring else (None, {})
    except MethodSkipped as err:
        log.warning("%s skipped: %s", name, err)
        write_json(out_dir / "metrics.json", {"skipped": str(err)})
        return {"skipped": str(err)}
    stats["cost/score_seconds"] = time.perf_counter() - start
    n = len(pool.examples)
    weights = refine(scores, method, cfg.study.keep_fraction, n)
    ranking: dict[str, Any] = {"auroc": None, "norm_spearman": None}
    if scores is not None:
        norms = data.bank.grad_norms()
        ranking = ranking_metrics(scores, pool, norms)
        write_scores(out_dir / "scores.jsonl", pool, scores, norms, weights)
    loggers = build_loggers(cfg.logger, run_dir, name, resolved)
    try:
        policy, train_stats = retrain(cfg, pool, weights, method, out_dir, loggers)
        metrics = evaluate_policy_dir(cfg, policy, test, out_dir)
        log_metrics(loggers, metrics, prefix="eval/")
    finally:
        close_loggers(loggers)
    record = {**ranking, **metrics, **train_stats, **stats}
    write_json(out_dir / "metrics.json", record)
    log.info("%s: auroc %s acc@1 %.3f", name, ranking["auroc"], metrics.get("acc@1", math.nan))
    return record


def debias_ablation(
    cfg: DriftConfig, data: StudyData, pool: Pool, methods: dict[str, MethodConfig]
) -> dict[str, dict[str, Any]]:
    """Score-only entries for each drift_if method under the other ``study.debias_ablation``
    modes (the debiasing options are reported beside the default)."""
    out: dict[str, dict[str, Any]] = {}
    norms = data.bank.grad_norms()
    for name, method in methods.items():
        s = method.scoring
        if s is None or s.method != ScoringMethod.drift_if:
            continue
        for mode in cfg.study.debias_ablation:
            if mode == s.debias.value:
                continue
            try:
                scores, _ = drift_if_scores(data, dataclasses.replace(s, debias=mode))
            except MethodSkipped:
                continue
            out[f"{name}[debias={mode}]"] = ranking_metrics(scores, pool, norms)
    return out


def run_attribution(cfg: DriftConfig, resolved: dict[str, Any]) -> dict[str, Any]:
    """Run the study for every method of ``cfg``; write ``results.json``; return it."""
    start = time.perf_counter()
    lightning.seed_everything(cfg.seed, workers=True, verbose=False)
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    methods = check_methods(cfg)
    pool, pool_key = study_pool(cfg)
    records = zip(pool.examples, pool.kinds, strict=True)
    write_jsonl(
        run_dir / "pool.jsonl",
        ({"id": e.id, "kind": k, "messages": e.messages} for e, k in records),
    )
    warmup = ensure_warmup(cfg, pool, pool_key)
    queries = study_queries(cfg)
    on_policy = any(m.scoring and m.scoring.method in ON_POLICY for m in methods.values())
    rollouts = validation_rollouts(cfg, warmup.policy_dir, queries) if on_policy else []
    bank = FeatureBank(cfg, warmup, pool.examples, feature_device(cfg))
    task = study_task(cfg)
    data = StudyData(bank, pool.examples, queries, rollouts, cfg.seed, task)
    test = load_prompts(cfg, "test", str(warmup.policy_dir))
    results = {
        name: run_method(cfg, name, method, data, pool, test, run_dir, resolved)
        for name, method in methods.items()
    }
    results.update(debias_ablation(cfg, data, pool, methods))
    summary = {
        "methods": results,
        "wall_seconds": time.perf_counter() - start,
        "pool": {"size": len(pool.examples), "counts": pool.counts()},
        "warmup": {"steps": warmup.final.step, "checkpoints": len(warmup.checkpoints)},
    }
    write_json(run_dir / "results.json", summary)
    (run_dir / "results.md").write_text(markdown_table(results, columns(task)) + "\n")
    title = f"{cfg.name} (seed {cfg.seed}, {summary['wall_seconds']:.0f} s)"
    print_table(results, title=title, columns=columns(task))
    return summary
