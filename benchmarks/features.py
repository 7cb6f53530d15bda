"""Per-example gradient features: the hook path against the LESS-style loop, same model and dim.

    .venv/bin/python benchmarks/features.py                # tiny Llama, LoRA r=8 on q/k/v/o
    .venv/bin/python benchmarks/features.py --plain        # plain linear layers instead

Both paths write a feature store of the same total dimension from the same examples; the
script prints examples/s of each, of a plain batched forward+backward (the floor), and the
hook/loop speed ratio.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from drift.attribution.config import FeatureConfig
from drift.attribution.extract import extract_features
from drift.data.chat import EncodedExample
from drift.training.data import pad_examples
from drift.training.loss import per_example_loss


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=64,
        hidden_size=args.hidden,
        intermediate_size=4 * args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 64,
        num_key_value_heads=args.hidden // 64,
        max_position_embeddings=2 * args.seq,
    )
    model = LlamaForCausalLM(cfg)
    if args.plain:
        return model.eval()
    lora = LoraConfig(
        r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    )
    model = get_peft_model(model, lora)
    with torch.no_grad():  # a "warmed-up" adapter: PEFT's zero lora_B would zero lora_A's grads
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.02)
    return model.eval()


def make_examples(n: int, seq: int) -> list[EncodedExample]:
    gen = torch.Generator().manual_seed(1)
    lengths = torch.randint(seq // 2, seq + 1, (n,), generator=gen).tolist()
    return [
        EncodedExample(
            id=f"ex-{i:05d}",
            input_ids=torch.randint(1, 64, (t,), generator=gen).tolist(),
            loss_mask=[0] * (t // 2) + [1] * (t - t // 2),
            weight=1.0,
        )
        for i, t in enumerate(lengths)
    ]


def time_extract(model, examples, cfg: FeatureConfig, path: Path) -> tuple[float, int]:
    """Seconds to fill a fresh feature store at ``path``, and its dim."""
    start = time.perf_counter()
    store = extract_features(
        model, examples, cfg, path, pad_id=0, model_name="bench", show_progress=False
    )
    return time.perf_counter() - start, store.dim


def time_plain_backward(model, examples, batch_size: int) -> float:
    """Seconds of batched forward+backward of the summed per-example losses (no features)."""
    start = time.perf_counter()
    for i in range(0, len(examples), batch_size):
        batch = pad_examples(examples[i : i + batch_size], pad_id=0)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        per_example_loss(logits, batch["input_ids"], batch["loss_mask"]).sum().backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--examples", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--proj", type=int, default=16, help="proj_in = proj_out per layer")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--plain", action="store_true", help="plain linear layers, no LoRA")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of, runs interleaved")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)

    model, examples = build_model(args), make_examples(args.examples, args.seq)
    base = {"proj_in": args.proj, "proj_out": args.proj, "batch_size": args.batch_size}
    configs = {"hooks": FeatureConfig(**base), "loop (LESS)": FeatureConfig(impl="loop", **base)}
    times: dict[str, list[float]] = {name: [] for name in [*configs, "plain fwd+bwd"]}
    dims = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in configs.items():  # warm-up: one batch each
            time_extract(model, examples[: args.batch_size], cfg, Path(tmp) / f"warm-{name}")
        for rep in range(args.repeats):  # interleaved, best of: the machine is shared
            for name, cfg in configs.items():
                secs, dims[name] = time_extract(model, examples, cfg, Path(tmp) / f"{name}-{rep}")
                times[name].append(secs)
            times["plain fwd+bwd"].append(time_plain_backward(model, examples, args.batch_size))
    best = {name: min(t) for name, t in times.items()}
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    layers = "plain linears" if args.plain else f"LoRA r={args.lora_r} q/k/v/o"
    print(f"model: Llama h{args.hidden} x{args.layers} ({n_params:.1f}M params), {layers}")
    print(
        f"examples: {args.examples}, length {args.seq // 2}-{args.seq}, "
        f"batch {args.batch_size}, threads {args.threads}"
    )
    print(f"feature dim: hooks {dims['hooks']}, loop {dims['loop (LESS)']}")
    for name, secs in best.items():
        print(f"  {name:<14} {args.examples / secs:9.1f} examples/s  ({secs:.2f} s)")
    print(f"hooks / loop speed: {best['loop (LESS)'] / best['hooks']:.1f}x")
    print(f"hooks time / plain fwd+bwd time: {best['hooks'] / best['plain fwd+bwd']:.2f}")


if __name__ == "__main__":
    main()
