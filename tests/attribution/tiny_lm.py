"""A tiny LoRA Llama and right-padded batches for the feature tests (plain model: tiny_models)."""

from __future__ import annotations

import torch
from peft import LoraConfig, get_peft_model
from tiny_models import VOCAB, tiny_llama

from drift.data.chat import EncodedExample
from drift.training.data import pad_examples


def tiny_lora(seed: int = 0):
    """LoRA r=4 on q/k/v/o with lora_B made non-zero (PEFT zero-inits it: A grads would vanish)."""
    model = get_peft_model(
        tiny_llama(seed),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]),
    )
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(0.3 * torch.randn(param.shape, generator=gen))
    return model.eval()


def make_examples(
    lengths: list[int], seed: int = 0, empty: tuple[int, ...] = ()
) -> list[EncodedExample]:
    """Random examples; the second half of each is supervised, except those in ``empty``."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i, n in enumerate(lengths):
        ids = torch.randint(1, VOCAB - 1, (n,), generator=gen).tolist()
        mask = [0] * n if i in empty else [0] * (n // 2) + [1] * (n - n // 2)
        out.append(
            EncodedExample(id=f"ex-{seed}-{i:03d}", input_ids=ids, loss_mask=mask, weight=1.0)
        )
    return out


def make_batch(examples: list[EncodedExample], extra_pad: int = 0) -> dict[str, torch.Tensor]:
    """Right-padded batch, optionally with ``extra_pad`` more padding columns."""
    batch = pad_examples(examples, pad_id=0)
    if extra_pad:
        batch = {
            k: torch.nn.functional.pad(v, (0, extra_pad)) if v.dim() == 2 else v
            for k, v in batch.items()
        }
    return batch
