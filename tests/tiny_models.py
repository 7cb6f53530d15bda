"""Tiny randomly initialised Llamas for tests that need a model but no tokenizer."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

VOCAB = 40
PAD_ID = 0


def tiny_llama(
    seed: int = 0,
    *,
    layers: int = 2,
    heads: int = 2,
    vocab_size: int = VOCAB,
    tied: bool = False,
) -> LlamaForCausalLM:
    """A float32 Llama with hidden size 32 (MLP 64), eager attention, pad id ``PAD_ID``."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=64,
        tie_word_embeddings=tied,
        pad_token_id=PAD_ID,
        attn_implementation="eager",
    )
    return LlamaForCausalLM(config).float().eval()
