"""The multi-turn rollout driver against raw ``model.generate`` on the same prompts.

``drift`` runs :func:`~drift.rollout.driver.run_episodes` with the HF engine; ``generate`` is a
plain loop over the same conversations: render each with the chat template, sort by length,
left-pad batches of the same size, call ``model.generate`` with the same greedy settings, append
the reply and the same user turn. Episodes run a fixed number of turns (the intrinsic protocol:
every episode answers every turn), once with 1 turn and once with 5 (the history grows each
turn). Rates are generated tokens per second; the notes say whether both produced the same
texts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from drift.bench import models
from drift.bench.harness import BenchResult, Size, counting, interleave
from drift.config import RewardConfig
from drift.data.embedded import make_split
from drift.enums import Protocol
from drift.reward.verifiers import exact_match
from drift.rollout.driver import run_episodes
from drift.rollout.engine import SamplingParams
from drift.rollout.env import Environment
from drift.rollout.hf_engine import HFEngine
from drift.types import Message

# prompts, samples per prompt, new tokens per turn, generate batch size
SHAPES: dict[Size, tuple[int, int, int, int]] = {
    Size.TINY: (2, 2, 4, 4),
    Size.SMALL: (16, 4, 32, 64),
    Size.FULL: (64, 16, 256, 256),
}
TURNS = (1, 5)
INSTRUCTION = "Check your answer and answer again."


def raw_generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    convs: list[list[Message]],
    turns: int,
    config: GenerationConfig,
    batch: int,
) -> list[str]:
    """Every turn's reply of every conversation (in order), by ``model.generate`` alone."""
    convs = [list(c) for c in convs]
    texts: list[str] = []
    for turn in range(turns):
        prompts = tokenizer.apply_chat_template(convs, tokenize=False, add_generation_prompt=True)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        replies = [""] * len(prompts)
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            enc = tokenizer(
                [prompts[i] for i in idx],
                add_special_tokens=False,
                padding=True,
                padding_side="left",
                return_tensors="pt",
            ).to(model.device)
            with torch.inference_mode():
                out = model.generate(**enc, generation_config=config)
            new = out[:, enc["input_ids"].shape[1] :]
            decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
            for i, text in zip(idx, decoded, strict=True):
                replies[i] = text
        for conv, reply in zip(convs, replies, strict=True):
            conv.append({"role": "assistant", "content": reply})
            if turn + 1 < turns:
                conv.append({"role": "user", "content": INSTRUCTION})
        texts.extend(replies)
    return texts


def run(size: Size, repeats: int) -> BenchResult:
    """Driver and raw generate interleaved, 1-turn and 5-turn episodes, at ``size``."""
    n_prompts, samples, new_tokens, batch = SHAPES[Size(size)]
    model, tokenizer = models.build(size)
    model = models.talkative(model, tokenizer).to(models.device()).eval()
    problems = make_split("train", n_prompts, seed=0, num_candidates=4)
    params = SamplingParams(temperature=0.0, top_p=1.0, max_new_tokens=new_tokens)
    engine = HFEngine(model, tokenizer, batch)
    config = GenerationConfig(
        max_new_tokens=new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    calls: dict[str, Callable[[], list[str]]] = {}
    for turns in TURNS:
        env = Environment(Protocol.intrinsic, INSTRUCTION, turns)
        convs = [env.initial_messages(p) for p in problems for _ in range(samples)]

        def driver(env: Environment = env) -> list[str]:
            episodes = run_episodes(
                engine, problems, samples, params, env, exact_match, RewardConfig()
            )
            by_turn = [[e.turns[t].text for e in episodes] for t in range(env.max_turns)]
            return [text for texts in by_turn for text in texts]

        def baseline(convs: list[list[Message]] = convs, turns: int = turns) -> list[str]:
            return raw_generate(model, tokenizer, convs, turns, config, batch)

        calls[f"drift {turns} turn(s)"] = driver
        calls[f"generate {turns} turn(s)"] = baseline
    outputs = {name: call() for name, call in calls.items()}  # the warm-up round
    tokens = {name: _count(tokenizer, texts) for name, texts in outputs.items()}
    cases = {name: counting(call, tokens[name]) for name, call in calls.items()}
    seconds, units = interleave(cases, repeats, warmup=False)
    same = {t: outputs[f"drift {t} turn(s)"] == outputs[f"generate {t} turn(s)"] for t in TURNS}
    shape = models.shape(Size(size))
    return BenchResult(
        name="rollout",
        size=str(size),
        unit="tokens/s",
        setting={
            "model": f"{shape.architecture.value} h{shape.hidden_size}x{shape.num_layers}",
            "prompts": n_prompts,
            "samples": samples,
            "new_tokens": new_tokens,
            "batch": batch,
            "device": str(models.device()),
        },
        seconds=seconds,
        units=units,
        comparisons=[(f"drift {t} turn(s)", f"generate {t} turn(s)") for t in TURNS],
        notes={"identical_texts": {f"{t} turn(s)": same[t] for t in TURNS}},
    )


def _count(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> int:
    return sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
