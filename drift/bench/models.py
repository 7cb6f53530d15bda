"""Models and data the benchmarks share: the project's tiny-model builder at three shapes.

Every model is randomly initialised (no downloads) with the project's character tokenizer;
``full`` is Qwen2.5-0.5B's transformer shape, read from ``conf/model/qwen2.5-0.5b-shaped.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from peft import LoraConfig, get_peft_model
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from drift.bench.harness import Size
from drift.cli import CONFIG_DIR
from drift.data.chat import EncodedExample
from drift.data.tokenizer import build_char_tokenizer
from drift.enums import Architecture
from drift.models.config import TinyModelConfig
from drift.models.factory import build_tiny_model

SHAPES: dict[Size, TinyModelConfig] = {
    Size.TINY: TinyModelConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=256),
    Size.SMALL: TinyModelConfig(
        hidden_size=128,
        num_layers=4,
        num_heads=2,
        intermediate_size=512,
        max_position_embeddings=1024,  # 5-turn rollouts run past 256 positions
    ),
}
SHAPED_PRESET = Path(CONFIG_DIR) / "model" / "qwen2.5-0.5b-shaped.yaml"
"""The model preset whose shape ``full`` takes."""


def shape(size: Size) -> TinyModelConfig:
    """The model shape of ``size``: ``full`` the one that ``model=qwen2.5-0.5b-shaped`` builds."""
    if size != Size.FULL:
        return SHAPES[size]
    tiny = dict(yaml.safe_load(SHAPED_PRESET.read_text())["tiny"])
    return TinyModelConfig(**{**tiny, "architecture": Architecture(tiny["architecture"])})


LORA_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]


def device() -> torch.device:
    """CUDA when visible, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build(size: Size) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A seeded random model of ``size``'s shape and the character tokenizer."""
    tokenizer = build_char_tokenizer()
    torch.manual_seed(0)
    return build_tiny_model(shape(Size(size)), tokenizer), tokenizer


def talkative(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    """Zero the special tokens' (tied) embedding rows: their logits become 0 while some
    ordinary token's is positive, so a random model writes full-length text instead of
    ending its reply at once (random weights put eos or a role marker first)."""
    with torch.no_grad():
        model.get_input_embeddings().weight[tokenizer.all_special_ids] = 0.0
    return model


def with_lora(model: PreTrainedModel, r: int = 8) -> torch.nn.Module:
    """LoRA r on q/k/v/o with a "warmed-up" B (PEFT's zero B would zero A's gradients)."""
    model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=LORA_MODULES))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.02)
    return model


def random_examples(n: int, seq: int, vocab: int) -> list[EncodedExample]:
    """``n`` seeded examples of ``seq // 2`` to ``seq`` tokens, the second half supervised."""
    gen = torch.Generator().manual_seed(1)
    lengths = torch.randint(seq // 2, seq + 1, (n,), generator=gen).tolist()
    return [
        EncodedExample(
            id=f"ex-{i:05d}",
            input_ids=torch.randint(1, vocab, (t,), generator=gen).tolist(),
            loss_mask=[0] * (t // 2) + [1] * (t - t // 2),
            weight=1.0,
        )
        for i, t in enumerate(lengths)
    ]
