"""Tiny models and encoded examples for the training tests (no tokenizer needed)."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from tiny_models import VOCAB, tiny_llama

from drift.data.chat import EncodedExample


def random_examples(n: int, seed: int = 0, empty: tuple[int, ...] = ()) -> list[EncodedExample]:
    """``n`` examples of lengths 5..20 with a supervised suffix and weights in (0.1, 3).

    Token ids include PAD_ID inside the sequences, so padding can't be told apart by id.
    Examples listed in ``empty`` get no supervised token.
    """
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        length = int(torch.randint(5, 21, (1,), generator=gen))
        ids = torch.randint(0, VOCAB, (length,), generator=gen).tolist()
        prompt = int(torch.randint(1, length - 1, (1,), generator=gen))
        mask = [0] * prompt + [1] * (length - prompt)
        if i in empty:
            mask = [0] * length
        weight = float(torch.empty(1).uniform_(0.1, 3.0, generator=gen))
        out.append(EncodedExample(f"ex-{i}", ids, mask, weight))
    return out


@pytest.fixture
def make_examples():
    """Factory: ``make_examples(n, seed=0, empty=())`` -> encoded examples."""
    return random_examples


@pytest.fixture
def make_model():
    """Factory: ``make_model(seed=0, vocab_size=40)`` -> a 1-layer, 1-head tied tiny Llama."""
    return partial(tiny_llama, layers=1, heads=1, tied=True)
