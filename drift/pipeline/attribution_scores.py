"""Every scorer of the attribution study, wired: the pool's features (:class:`FeatureBank`) and
the validation targets into the maths of :mod:`drift.attribution` -> scores [N].

Higher score = more helpful (kept first). Targets per method:

- drift_if: on-policy rollouts of the warmed model on the validation queries, signed by
  correctness (``scoring.scheme``), one unit direction per query; identity or Fisher
  preconditioner; debiased against ‖g_z‖ (``scoring.debias``).
- less: reference answers, one validation task per clue parity (embedded) or problem kind
  (arithmetic: add, sub, ...); per snapshot the mean cosine of the Adam-transformed pool
  gradients to a task's targets; Σ_snapshots mean-lr × cosine; max over tasks.
- grad_sim: reference answers, mean cosine of plain gradients at the final snapshot.
- prism: pairs (reference answer, the model's own wrong rollout) weighted by the model's
  preference π_q; ⟨g_z, Σ_q π_q (∇ℓ⁺ - ∇ℓ⁻)⟩.
- cg_if: (H + λI)⁻¹ of the mean reference-answer gradient by conjugate gradient (exact
  Hessian-vector products on a pool subsample), projected into the feature space.
- perplexity, embedding, random: no gradients.

Bad validation sets take documented paths (:mod:`drift.attribution.directions`): with ``scheme``
balanced/advantage and no query that has both a correct and an incorrect rollout, drift_if falls
back to ``sign`` (each rollout ±1: all-correct targets pull towards the model's answers,
all-wrong ones push away) and reports ``targets/fallback_sign = 1``; prism with no incorrect
rollout at all raises :class:`MethodSkipped` (the study records the reason and goes on with the
other methods).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from drift.attribution.baselines import (
    conversation_text,
    embedding_scores,
    perplexity_scores,
    random_scores,
)
from drift.attribution.directions import (
    chunks,
    damped_inverse_hvp,
    prism_pairs,
    signed_influence,
)
from drift.attribution.extract import feature_projection
from drift.attribution.layers import select_layers
from drift.attribution.scoring import direction_scores, less_aggregate, less_checkpoint_scores
from drift.attribution.scoring_config import ScoringConfig, ScoringMethod
from drift.attribution.targets import (
    TargetSet,
    preference_pair_targets,
    prism_preference,
    reference_answer_targets,
    target_direction,
)
from drift.pipeline.attribution_features import FeatureBank
from drift.pipeline.attribution_pool import EMBEDDED, StudyTask
from drift.types import Problem, TrainExample, Trajectory


@dataclass
class StudyData:
    """What every scorer may use."""

    bank: FeatureBank
    pool: list[TrainExample]
    queries: list[Problem]
    rollouts: list[Trajectory]
    seed: int
    task: StudyTask = EMBEDDED  # reference replies and LESS's validation tasks


def score(data: StudyData, scoring: ScoringConfig) -> tuple[np.ndarray, dict[str, float]]:
    """Scores [N] of the pool under ``scoring`` and statistics about how they were made."""
    method = ScoringMethod(scoring.method)
    if method is ScoringMethod.drift_if:
        return drift_if_scores(data, scoring)
    if method is ScoringMethod.prism:
        return prism_scores(data, scoring), {}
    if method is ScoringMethod.less:
        return less_scores(data, scoring), {}
    if method is ScoringMethod.grad_sim:
        targets = reference_targets(data.queries, data.task.reply)
        feats = data.bank.target_features(targets)
        return less_checkpoint_scores(chunks(data.bank.pool_store()), feats, targets).max(1), {}
    if method is ScoringMethod.cg_if:
        return cg_if_scores(data, scoring)
    if method is ScoringMethod.perplexity:
        return perplexity_scores(data.bank.losses(), scoring.perplexity_mode), {}
    if method is ScoringMethod.embedding:
        texts = [conversation_text(ex.messages, ("user", "assistant")) for ex in data.pool]
        queries = [conversation_text(q.messages) for q in data.queries]
        return embedding_scores(texts, queries, reduce=scoring.embedding_reduce), {}
    return random_scores(len(data.pool), scoring.random_seed), {}


def reference_targets(
    queries: Sequence[Problem],
    reply: Callable[[Problem], str] = EMBEDDED.reply,
    group: str | None = None,
) -> TargetSet:
    """Validation queries with their reference replies (LESS, grad_sim, cg_if); with ``group``,
    one validation task per value of ``Problem.meta[group]`` (LESS)."""
    task_of = (lambda p: str(p.meta.get(group, "all"))) if group else None
    return reference_answer_targets(queries, reply, task_of)


def drift_if_scores(data: StudyData, scoring: ScoringConfig) -> tuple[np.ndarray, dict[str, float]]:
    """DRIFT-IF: debiased ⟨P·g_val, g_z⟩ with on-policy signed targets."""
    bank = data.bank
    return signed_influence(data.rollouts, scoring, bank.target_features, bank.pool_store())


def prism_scores(data: StudyData, scoring: ScoringConfig) -> np.ndarray:
    """PRISM: ⟨g_z, Σ_q π_q (∇ℓ⁺ - ∇ℓ⁻)⟩ (debiased as configured)."""
    pairs = prism_pairs(data.queries, data.rollouts, data.task.reply)
    losses = data.bank.losses([ex for pair in pairs for ex in pair]).reshape(-1, 2)
    targets = preference_pair_targets(pairs, prism_preference(-losses[:, 0], -losses[:, 1]))
    feats = data.bank.target_features(targets)
    direction = target_direction(feats, targets.coeffs, targets.groups, scoring.normalize_per_group)
    store = data.bank.pool_store()
    return direction_scores(chunks(store), direction, scoring.debias, scoring.alpha)[:, 0]


def less_scores(data: StudyData, scoring: ScoringConfig) -> np.ndarray:
    """LESS: Σ_c lr_c · mean cosine(Adam feature, task targets), max over tasks."""
    targets = reference_targets(data.queries, data.task.reply, data.task.group)
    per_ckpt, lrs = [], []
    for ckpt in data.bank.warmup.checkpoints:
        store = data.bank.adam_store(ckpt, scoring.adam_form)
        feats = data.bank.target_features(targets, ckpt)
        per_ckpt.append(less_checkpoint_scores(chunks(store), feats, targets))
        lrs.append(ckpt.mean_lr)
    return less_aggregate(np.stack(per_ckpt), np.array(lrs))


def cg_if_scores(data: StudyData, scoring: ScoringConfig) -> tuple[np.ndarray, dict[str, float]]:
    """Influence ⟨(H + λI)⁻¹ g_val, g_z⟩ with H the exact Hessian on a pool subsample."""
    bank = data.bank
    model = bank.at(bank.warmup.final)
    cfg = bank.cfg
    modules = select_layers(model, cfg.attribution.layers)
    targets = bank.encode(reference_targets(data.queries, data.task.reply).examples)
    rng = np.random.default_rng([data.seed, 11])
    n = min(cfg.study.cg_samples, len(bank.pool))
    sample = [bank.pool[i] for i in np.sort(rng.choice(len(bank.pool), n, replace=False))]
    bs = cfg.attribution.batch_size
    batches = [bank.batch(sample[i : i + bs]) for i in range(0, n, bs)]
    params = [m.weight for m in modules.values()]
    parts, damping = damped_inverse_hvp(model, params, bank.batch(targets), batches, scoring)
    grads = {name: part[None] for name, part in zip(modules, parts, strict=True)}
    direction = feature_projection(model, cfg.attribution, bank.device)(grads).detach().cpu()
    store = bank.pool_store()
    scores = direction_scores(chunks(store), direction.numpy(), scoring.debias, scoring.alpha)
    return scores[:, 0], {"cg/damping": damping}
