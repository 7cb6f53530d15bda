"""Choices used in configs, as str-Enums (OmegaConf checks them; it rejects typing.Literal).

One member per choice, named as YAML spells it (OmegaConf matches member names, not values).
"""

from enum import Enum


class TaskSource(str, Enum):
    embedded = "embedded"
    file = "file"
    hf_dataset = "hf_dataset"
    arithmetic = "arithmetic"


class RecordFormat(str, Enum):
    auto = "auto"
    metamathqa = "metamathqa"
    math = "math"
    drift = "drift"


class DType(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class Architecture(str, Enum):
    llama = "llama"
    qwen2 = "qwen2"


class EngineName(str, Enum):
    hf = "hf"
    vllm = "vllm"


class VerifierName(str, Enum):
    exact = "exact"
    math_verify = "math_verify"


class Weighting(str, Enum):
    uniform = "uniform"
    drift_iw = "drift_iw"
    rft = "rft"


class Normalize(str, Enum):
    mean = "mean"
    weight_sum = "weight_sum"


class LossTurns(str, Enum):
    final = "final"
    all = "all"


class BatchOrder(str, Enum):
    shuffle = "shuffle"  # a seeded shuffle of the examples, cut into optimiser steps
    prompt_groups = "prompt_groups"  # rollout order: consecutive prompt groups per step


class Truncation(str, Enum):
    right = "right"  # keep the first max_length tokens
    left = "left"  # keep the last max_length tokens: the final answer stays


class Schedule(str, Enum):
    constant = "constant"
    linear = "linear"
    cosine = "cosine"


class LoggerName(str, Enum):
    none = "none"
    csv = "csv"
    wandb = "wandb"


class WandbMode(str, Enum):
    online = "online"
    offline = "offline"
    disabled = "disabled"


class MethodFamily(str, Enum):
    iw = "iw"
    attribution = "attribution"
    grpo = "grpo"


class InfluenceCombine(str, Enum):
    """How ``method=drift_iw_if`` combines influence scores with the return weights."""

    product = "product"
    drop_negative = "drop_negative"


class AnswerFormat(str, Enum):
    """How an assistant turn's final answer is read (``task.answer_format``)."""

    tags = "tags"  # <answer>...</answer>; well formed = [<think>…</think>] <answer>…</answer>
    last_number = "last_number"  # the last number in free text ("59 + 63 = 122." -> 122)


class ArithmeticOp(str, Enum):
    """Single-step problems of ``task=arithmetic``."""

    add = "add"
    sub = "sub"
    mul = "mul"  # a two-digit number times a one-digit multiplier


class Protocol(str, Enum):
    """Who speaks between attempts (``env.protocol``; README, "Protocols")."""

    oracle = "oracle"  # the verifier: feedback after a wrong answer, stop at the first right one
    intrinsic = "intrinsic"  # a fixed revision instruction after every attempt, all T attempts


class PromptFormat(str, Enum):
    """What the model sees and how its replies are read (``rollout.prompt_format``,
    ``eval.prompt_format``; README, "Prompt protocol")."""

    plain = "plain"  # the task's own messages and answer format, the feedback as the user turn
    drift_full = "drift_full"  # the DRIFT authors' turn blocks (turn, state, actions, Reward:)
    drift_simple = "drift_simple"  # the DRIFT authors' problem once, then the feedback alone


class EvalSuite(str, Enum):
    drift_paper = "drift_paper"


class Benchmark(str, Enum):
    math500 = "math500"
    theoremqa = "theoremqa"
    gpqa = "gpqa"
    mmlu_redux = "mmlu_redux"
    hendrycks_math = "hendrycks_math"
    mmlu_pro = "mmlu_pro"
