"""Tiny models and encoded examples for the training tests (no tokenizer needed)."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from drift.data.chat import EncodedExample

VOCAB = 40
PAD_ID = 0


def tiny_llama(seed: int = 0, vocab_size: int = VOCAB) -> LlamaForCausalLM:
    """A 1-layer Llama (hidden 32, one head of 32) in float32, eager attention."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=1,
        num_key_value_heads=1,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        pad_token_id=PAD_ID,
        attn_implementation="eager",
    )
    return LlamaForCausalLM(config).float()


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
    """Factory: ``make_model(seed=0, vocab_size=40)`` -> a tiny float32 Llama."""
    return tiny_llama
