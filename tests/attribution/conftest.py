"""Fixtures of the feature tests: a tiny Llama with and without a LoRA adapter."""

from __future__ import annotations

import pytest
from tiny_lm import tiny_lora
from tiny_models import tiny_llama
from transformers import LlamaForCausalLM


@pytest.fixture(scope="module")
def plain_model() -> LlamaForCausalLM:
    return tiny_llama()


@pytest.fixture(scope="module")
def lora_model():
    return tiny_lora()
