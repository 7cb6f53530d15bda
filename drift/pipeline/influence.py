"""On-policy influence of one round's trajectories, combined with their weights (drift_iw_if).

For the policy that sampled the round's trajectories (the reference in round 1):

1. validation targets: ``influence.rollouts_per_query`` episodes of that policy on the first
   ``influence.num_queries`` problems of the val split, signed by correctness as drift_if signs
   them (``method.scoring``);
2. features: projected per-example gradients of every trajectory's SFT loss on the assistant
   tokens training uses (``method.loss_turns``), unweighted, i.e. influence per unit weight;
3. scores: drift_if's debiased ⟨P·g_val, g_z⟩ (:func:`signed_influence`), combined with the
   return weights by :func:`combine_influence`.

Everything is cached under ``cache`` by a hash of what it depends on: the validation rollouts,
the two feature stores (policy, ``attribution`` settings, tokens and loss masks) and the scores
with what they cost (``influence-<key>.json``), so a rerun reuses them and reports the time
they took when first computed, as rollouts do.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from drift.attribution.directions import signed_influence
from drift.attribution.extract import extract_features, store_key
from drift.attribution.store import FeatureStore
from drift.attribution.targets import TargetSet
from drift.config import DriftConfig, MethodConfig
from drift.data.chat import EncodedExample, encode_examples
from drift.models.factory import load_policy
from drift.pipeline.attribution_features import feature_device
from drift.pipeline.cache_keys import cache_key, episodes_config, write_entry_config
from drift.pipeline.rollouts import ensure_rollouts, validation_config
from drift.rollout.prompts import load_prompts
from drift.types import Problem, TrainExample, Trajectory
from drift.utils.hashing import config_hash
from drift.utils.io import write_json
from drift.weighting.influence import combine_influence
from drift.weighting.trajectory import to_train_examples

log = logging.getLogger(__name__)

VERSION = "iw-influence-v1"


def influence_weighted(
    cfg: DriftConfig,
    method: MethodConfig,
    policy: str,
    trajectories: Sequence[Trajectory],
    weights: np.ndarray,
    cache: Path,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The weights [N] of ``trajectories`` (sampled by ``policy``) combined with their
    influence, the influence scores [N], and statistics of the scores and their cost."""
    assert method.influence is not None  # checked by MethodConfig
    scores, stats = trajectory_influence(cfg, method, policy, trajectories, cache)
    combined = combine_influence(
        [t.prompt_id for t in trajectories],
        weights,
        scores,
        method.influence.combine,
        method.influence.temperature,
    )
    return combined, scores, {**stats, "influence/negative_fraction": float((scores < 0).mean())}


def validation_queries(cfg: DriftConfig, num_queries: int, policy: str) -> list[Problem]:
    """The first ``num_queries`` problems of the val split (all of them if it is smaller) whose
    prompts fit ``rollout.max_prompt_tokens`` under ``policy``'s chat template."""
    queries = load_prompts(cfg, "val", policy)[:num_queries]
    if len(queries) < num_queries:
        log.info("influence: the val split has %d of %d queries", len(queries), num_queries)
    return queries


def trajectory_influence(
    cfg: DriftConfig,
    method: MethodConfig,
    policy: str,
    trajectories: Sequence[Trajectory],
    cache: Path,
) -> tuple[np.ndarray, dict[str, float]]:
    """Influence scores [N] of ``trajectories`` (in their order) under ``policy``, and stats."""
    inf, scoring = method.influence, method.scoring
    assert inf is not None and scoring is not None  # checked by MethodConfig
    queries = validation_queries(cfg, inf.num_queries, policy)
    vcfg = validation_config(cfg, inf.rollouts_per_query, inf.val_max_turns or cfg.task.max_turns)
    upstream = {
        "artifact": "influence-rollouts",
        **episodes_config(vcfg, policy, "val"),
        "queries": [q.id for q in queries],
    }
    examples = list(to_train_examples(trajectories, np.ones(len(trajectories)), method.loss_turns))
    score_config = {
        "artifact": "influence",
        "version": VERSION,
        "rollouts": upstream,
        "examples": config_hash([(e.id, e.messages) for e in examples]),
        "loss_turns": method.loss_turns,
        "attribution": asdict(cfg.attribution.keyed()),
        "max_length": cfg.trainer.max_length,
        "scoring": asdict(scoring),
    }
    path = cache / f"influence-{cache_key(score_config)}.json"
    if path.exists():
        saved = json.loads(path.read_text())
        log.info("reusing influence scores %s", path)
        return np.array(saved["scores"], dtype=np.float64), saved["stats"]
    val_path = cache / f"influence-rollouts-{cache_key(upstream)}.jsonl"
    val = ensure_rollouts(vcfg, policy, queries, path=val_path, key_config=upstream)
    start = time.perf_counter()  # the rollouts report their own (first-drawn) time
    extractor = _Extractor(cfg, policy, cache)
    encoded = extractor.encode(examples)
    by_length = sorted(encoded, key=lambda e: len(e.input_ids))  # batches of similar length
    store = extractor.store(by_length, "trajectories")
    row = {i: r for r, i in enumerate(store.ids)}
    raw, stats = signed_influence(list(val.trajectories), scoring, extractor.targets, store)
    scores = raw[[row[e.id] for e in encoded]]
    stats = {
        **stats,
        "cost/influence_seconds": val.wall_seconds + time.perf_counter() - start,
        "cost/generated_tokens": float(val.generated_tokens),
    }
    write_json(path, {"ids": [e.id for e in encoded], "scores": scores.tolist(), "stats": stats})
    write_entry_config(path, score_config)
    return scores, stats


class _Extractor:
    """The policy, loaded once, and its cached feature stores."""

    def __init__(self, cfg: DriftConfig, policy: str, cache: Path) -> None:
        self.cfg, self.policy, self.cache = cfg, policy, cache
        model, self.tokenizer = load_policy(cfg.model, path=policy)
        self.model: nn.Module = model.to(torch.device(feature_device(cfg)))

    def encode(self, examples: list[TrainExample]) -> list[EncodedExample]:
        return encode_examples(
            self.tokenizer, examples, self.cfg.trainer.max_length, self.cfg.trainer.truncation
        )

    def store(self, encoded: list[EncodedExample], tag: str) -> FeatureStore:
        """Features of ``encoded`` (rows in their order), extracted once per policy, settings,
        tokens and loss masks."""
        key = store_key([VERSION, self.policy], self.cfg.attribution, encoded)
        return extract_features(
            self.model,
            encoded,
            self.cfg.attribution,
            self.cache / f"features-iw-{tag}-{key}",
            pad_id=self.tokenizer.pad_token_id,
            model_name=self.cfg.model.name_or_path,
            checkpoint=self.policy,
            show_progress=len(encoded) > 1000,
        )

    def targets(self, targets: TargetSet) -> np.ndarray:
        """Projected gradients [M, D] of the validation targets, in their order."""
        return self.store(self.encode(targets.examples), "targets").load()
