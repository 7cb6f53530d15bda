"""Every scorer of the attribution study: pool features + validation targets -> scores [N].

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

Bad validation sets take documented paths: with ``scheme`` balanced/advantage and no query that
has both a correct and an incorrect rollout, drift_if falls back to ``sign`` (each rollout ±1:
all-correct targets pull towards the model's answers, all-wrong ones push away) and reports
``targets/fallback_sign = 1``; prism with no incorrect rollout at all raises
:class:`MethodSkipped` (the study records the reason and goes on with the other methods).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from drift.attribution.baselines import (
    conversation_text,
    embedding_scores,
    perplexity_scores,
    random_scores,
)
from drift.attribution.layers import select_layers
from drift.attribution.loop import requiring_grad
from drift.attribution.precondition import (
    conjugate_gradient,
    fisher_inverse,
    flatten,
    make_hvp,
    unflatten,
)
from drift.attribution.scoring import direction_scores, less_aggregate, less_checkpoint_scores
from drift.attribution.scoring_config import (
    PreconditionerName,
    ScoringConfig,
    ScoringMethod,
    SignScheme,
)
from drift.attribution.store import FeatureStore
from drift.attribution.targets import (
    TargetSet,
    preference_pair_targets,
    prism_preference,
    reference_answer_targets,
    signed_rollout_targets,
    target_direction,
)
from drift.pipeline.attribution_features import FeatureBank, chunks, projection
from drift.pipeline.attribution_pool import EMBEDDED, StudyTask
from drift.training.loss import per_example_loss
from drift.types import Problem, TrainExample, Trajectory

log = logging.getLogger(__name__)

CG_RETRIES = 4


class MethodSkipped(ValueError):
    """A method cannot score this validation set; the message says why."""


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
    if method is ScoringMethod.DRIFT_IF:
        return drift_if_scores(data, scoring)
    if method is ScoringMethod.PRISM:
        return prism_scores(data, scoring), {}
    if method is ScoringMethod.LESS:
        return less_scores(data, scoring), {}
    if method is ScoringMethod.GRAD_SIM:
        targets = reference_targets(data.queries, data.task.reply)
        feats = data.bank.target_features(targets)
        return less_checkpoint_scores(chunks(data.bank.pool_store()), feats, targets).max(1), {}
    if method is ScoringMethod.CG_IF:
        return cg_if_scores(data, scoring)
    if method is ScoringMethod.PERPLEXITY:
        return perplexity_scores(data.bank.losses(), scoring.perplexity_mode), {}
    if method is ScoringMethod.EMBEDDING:
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


def drift_targets(
    rollouts: Sequence[Trajectory], scoring: ScoringConfig
) -> tuple[TargetSet, dict[str, float]]:
    """Signed on-policy targets, falling back to ``sign`` when no query has a contrast."""
    scheme = SignScheme(scoring.scheme)
    solved = {}
    for t in rollouts:
        solved.setdefault(t.prompt_id, set()).add(t.final_correct)
    contrast = sum(len(v) == 2 for v in solved.values())
    stats = {
        "targets/queries": float(len(solved)),
        "targets/queries_with_contrast": float(contrast),
        "targets/correct_fraction": float(np.mean([t.final_correct for t in rollouts])),
        "targets/fallback_sign": 0.0,
    }
    if contrast == 0 and scheme is not SignScheme.SIGN:
        log.warning(
            "drift_if: no validation query has both a correct and an incorrect rollout, so "
            "scheme=%s has no contrast; falling back to scheme=sign",
            scheme.value,
        )
        scheme, stats["targets/fallback_sign"] = SignScheme.SIGN, 1.0
    return signed_rollout_targets(rollouts, scheme, scoring.loss_turns), stats


def _precondition(store: FeatureStore, scoring: ScoringConfig, direction: np.ndarray) -> np.ndarray:
    name = PreconditionerName(scoring.preconditioner)
    if name is PreconditionerName.IDENTITY:
        return direction
    if name is PreconditionerName.FISHER:
        return fisher_inverse(chunks(store), scoring.damping)(direction)
    raise MethodSkipped(
        f"method.scoring.preconditioner={name.value} applies to less (adam) and cg_if (cg) only"
    )


def signed_influence(
    rollouts: Sequence[Trajectory],
    scoring: ScoringConfig,
    target_features: Callable[[TargetSet], np.ndarray],
    store: FeatureStore,
) -> tuple[np.ndarray, dict[str, float]]:
    """Debiased ⟨P·g_val, g_z⟩ [N] of the rows of ``store``, g_val from the signed on-policy
    ``rollouts``; ``target_features`` gives their projected gradients in the store's space."""
    targets, stats = drift_targets(rollouts, scoring)
    feats = target_features(targets)
    direction = target_direction(feats, targets.coeffs, targets.groups, scoring.normalize_per_group)
    direction = _precondition(store, scoring, direction)
    return direction_scores(chunks(store), direction, scoring.debias, scoring.alpha)[:, 0], stats


def drift_if_scores(data: StudyData, scoring: ScoringConfig) -> tuple[np.ndarray, dict[str, float]]:
    """DRIFT-IF: debiased ⟨P·g_val, g_z⟩ with on-policy signed targets."""
    bank = data.bank
    return signed_influence(data.rollouts, scoring, bank.target_features, bank.pool_store())


def prism_pairs(
    queries: Sequence[Problem],
    rollouts: Sequence[Trajectory],
    reply: Callable[[Problem], str] = EMBEDDED.reply,
) -> list[tuple[TrainExample, TrainExample]]:
    """(reference reply, first incorrect on-policy rollout) per query that has one."""
    wrong: dict[str, Trajectory] = {}
    for t in rollouts:
        if not t.final_correct:
            wrong.setdefault(t.prompt_id, t)
    pairs = []
    for q in queries:
        if q.id not in wrong:
            continue
        desired = [*q.messages, {"role": "assistant", "content": reply(q)}]
        pairs.append(
            (
                TrainExample(id=f"{q.id}/desired", messages=desired),
                TrainExample(id=f"{q.id}/undesired", messages=wrong[q.id].messages()),
            )
        )
    if not pairs:
        raise MethodSkipped(
            "prism: no validation query has an incorrect rollout to serve as the undesired "
            "response; raise study.rollouts_per_query or rollout.temperature"
        )
    return pairs


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
    params = [m.weight for m in modules.values()]

    def mean_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return per_example_loss(logits.logits, batch["input_ids"], batch["loss_mask"]).mean()

    targets = bank.encode(reference_targets(data.queries, data.task.reply).examples)
    rng = np.random.default_rng([data.seed, 11])
    n = min(cfg.study.cg_samples, len(bank.pool))
    sample = [bank.pool[i] for i in np.sort(rng.choice(len(bank.pool), n, replace=False))]
    bs = cfg.attribution.batch_size
    batches = [bank.batch(sample[i : i + bs]) for i in range(0, n, bs)]
    with requiring_grad(params), torch.enable_grad():
        g_val = torch.autograd.grad(mean_loss(model, bank.batch(targets)), params)
        hvp = make_hvp(model, params, batches, mean_loss)
        x, damping = solve_damped(hvp, flatten([g.detach() for g in g_val]), scoring)
    grads = {name: part[None] for name, part in zip(modules, unflatten(x, params), strict=True)}
    direction = projection(model, cfg.attribution, bank.device)(grads).detach().cpu().numpy()
    store = bank.pool_store()
    scores = direction_scores(chunks(store), direction, scoring.debias, scoring.alpha)[:, 0]
    return scores, {"cg/damping": damping}


def solve_damped(
    hvp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, scoring: ScoringConfig
) -> tuple[torch.Tensor, float]:
    """(H + λI)⁻¹ b by CG; λ starts at ``scoring.damping`` and grows ×10 (up to
    :data:`CG_RETRIES` times) while H + λI shows non-positive curvature (H is the true, possibly
    indefinite, Hessian of a model away from a minimum). Returns the solution and the λ used."""
    damping = scoring.damping
    for attempt in range(CG_RETRIES + 1):
        try:
            return conjugate_gradient(hvp, b, damping, scoring.cg_max_iter, scoring.cg_tol), damping
        except ValueError as err:
            if attempt == CG_RETRIES:
                raise MethodSkipped(f"cg_if: {err} (damping raised to {damping})") from None
            damping = 10 * max(damping, 1e-3)
            log.warning("cg_if: %s; retrying with damping %.3g", err, damping)
    raise AssertionError("unreachable")
