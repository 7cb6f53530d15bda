"""Batched chat generation with Hugging Face ``generate`` (left padding, eos stop)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import GenerationConfig

from drift.rollout.engine import SamplingParams, render_prompts
from drift.types import Message


class HFEngine:
    """Generates with a HF causal LM in batches of ``batch_size`` conversations.

    Prompts are rendered with the tokenizer's chat template (generation prompt appended, or a
    final assistant message continued: :func:`~drift.rollout.engine.render_prompts`),
    sorted by length to limit padding, left-padded with an explicit attention mask (``generate``
    derives position ids from it) and decoded without special tokens, new tokens only.
    """

    def __init__(self, model: Any, tokenizer: Any, batch_size: int) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        if tokenizer.pad_token_id is None:
            raise ValueError(
                "tokenizer has no pad token: set tokenizer.pad_token before generating"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    def _eos_ids(self) -> list[int]:
        ids = {self.tokenizer.eos_token_id}
        model_eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update(model_eos if isinstance(model_eos, list) else [model_eos])
        return sorted(i for i in ids if i is not None)

    def _generation_config(self, params: SamplingParams) -> GenerationConfig:
        """Sampling knobs set explicitly (top_k=0: generate uses top_k=50 otherwise), so the
        model's defaults cannot leak in."""
        sampling = (
            {"temperature": params.temperature, "top_p": params.top_p, "top_k": 0}
            if not params.greedy
            else {}
        )
        return GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=not params.greedy,
            repetition_penalty=1.0,
            num_beams=1,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self._eos_ids(),
            **sampling,
        )

    def _generate_batch(self, prompts: list[str], config: GenerationConfig) -> list[str]:
        enc = self.tokenizer(
            prompts,
            add_special_tokens=False,
            padding=True,
            padding_side="left",
            return_tensors="pt",
        ).to(self.model.device)
        out = self.model.generate(
            input_ids=enc["input_ids"],
            attention_mask=enc["attention_mask"],
            generation_config=config,
        )
        new = out[:, enc["input_ids"].shape[1] :]  # [B, new_tokens]
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)

    def generate(self, conversations: Sequence[list[Message]], params: SamplingParams) -> list[str]:
        """One assistant reply per conversation, in input order."""
        if not conversations:
            return []
        prompts = render_prompts(self.tokenizer, conversations)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        config = self._generation_config(params)
        replies: list[str] = [""] * len(prompts)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.random.fork_rng(devices=self._rng_devices()), torch.inference_mode():
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                for start in range(0, len(order), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    texts = self._generate_batch([prompts[i] for i in idx], config)
                    for i, text in zip(idx, texts, strict=True):
                        replies[i] = text
        finally:
            self.model.train(was_training)
        return replies

    def _rng_devices(self) -> list[int]:
        device = torch.device(self.model.device)
        return [device.index or 0] if device.type == "cuda" else []
