"""Choices used in configs, as str-Enums (OmegaConf checks them; it rejects typing.Literal).

Each member has a lower-case name, as written in YAML, and an upper-case alias for code.
"""

from enum import Enum


class TaskSource(str, Enum):
    embedded = "embedded"
    EMBEDDED = "embedded"  # alias
    file = "file"
    FILE = "file"  # alias
    hf_dataset = "hf_dataset"
    HF_DATASET = "hf_dataset"  # alias
    arithmetic = "arithmetic"
    ARITHMETIC = "arithmetic"  # alias


class RecordFormat(str, Enum):
    auto = "auto"
    AUTO = "auto"  # alias
    metamathqa = "metamathqa"
    METAMATHQA = "metamathqa"  # alias
    math = "math"
    MATH = "math"  # alias
    drift = "drift"
    DRIFT = "drift"  # alias


class DType(str, Enum):
    float32 = "float32"
    FLOAT32 = "float32"  # alias
    bfloat16 = "bfloat16"
    BFLOAT16 = "bfloat16"  # alias
    float16 = "float16"
    FLOAT16 = "float16"  # alias


class Architecture(str, Enum):
    llama = "llama"
    LLAMA = "llama"  # alias
    qwen2 = "qwen2"
    QWEN2 = "qwen2"  # alias


class EngineName(str, Enum):
    hf = "hf"
    HF = "hf"  # alias
    vllm = "vllm"
    VLLM = "vllm"  # alias


class VerifierName(str, Enum):
    exact = "exact"
    EXACT = "exact"  # alias
    math_verify = "math_verify"
    MATH_VERIFY = "math_verify"  # alias


class Weighting(str, Enum):
    uniform = "uniform"
    UNIFORM = "uniform"  # alias
    drift_iw = "drift_iw"
    DRIFT_IW = "drift_iw"  # alias
    rft = "rft"
    RFT = "rft"  # alias


class Normalize(str, Enum):
    mean = "mean"
    MEAN = "mean"  # alias
    weight_sum = "weight_sum"
    WEIGHT_SUM = "weight_sum"  # alias


class LossTurns(str, Enum):
    final = "final"
    FINAL = "final"  # alias
    all = "all"
    ALL = "all"  # alias


class BatchOrder(str, Enum):
    shuffle = "shuffle"  # a seeded shuffle of the examples, cut into optimiser steps
    SHUFFLE = "shuffle"  # alias
    prompt_groups = "prompt_groups"  # rollout order: consecutive prompt groups per step
    PROMPT_GROUPS = "prompt_groups"  # alias


class Truncation(str, Enum):
    right = "right"  # keep the first max_length tokens
    RIGHT = "right"  # alias
    left = "left"  # keep the last max_length tokens: the final answer stays
    LEFT = "left"  # alias


class Schedule(str, Enum):
    constant = "constant"
    CONSTANT = "constant"  # alias
    linear = "linear"
    LINEAR = "linear"  # alias
    cosine = "cosine"
    COSINE = "cosine"  # alias


class LoggerName(str, Enum):
    none = "none"
    NONE = "none"  # alias
    csv = "csv"
    CSV = "csv"  # alias
    wandb = "wandb"
    WANDB = "wandb"  # alias


class WandbMode(str, Enum):
    online = "online"
    ONLINE = "online"  # alias
    offline = "offline"
    OFFLINE = "offline"  # alias
    disabled = "disabled"
    DISABLED = "disabled"  # alias


class MethodFamily(str, Enum):
    iw = "iw"
    IW = "iw"  # alias
    attribution = "attribution"
    ATTRIBUTION = "attribution"  # alias
    grpo = "grpo"
    GRPO = "grpo"  # alias


class InfluenceCombine(str, Enum):
    """How ``method=drift_iw_if`` combines influence scores with the return weights."""

    product = "product"
    PRODUCT = "product"  # alias
    drop_negative = "drop_negative"
    DROP_NEGATIVE = "drop_negative"  # alias


class AnswerFormat(str, Enum):
    """How an assistant turn's final answer is read (``task.answer_format``)."""

    tags = "tags"  # <answer>...</answer>; well formed = [<think>…</think>] <answer>…</answer>
    TAGS = "tags"  # alias
    last_number = "last_number"  # the last number in free text ("59 + 63 = 122." -> 122)
    LAST_NUMBER = "last_number"  # alias


class ArithmeticOp(str, Enum):
    """Single-step problems of ``task=arithmetic``."""

    add = "add"
    ADD = "add"  # alias
    sub = "sub"
    SUB = "sub"  # alias
    mul = "mul"  # a two-digit number times a one-digit multiplier
    MUL = "mul"  # alias


class Protocol(str, Enum):
    """Who speaks between attempts (``env.protocol``; README, "Protocols")."""

    oracle = "oracle"  # the verifier: feedback after a wrong answer, stop at the first right one
    ORACLE = "oracle"  # alias
    intrinsic = "intrinsic"  # a fixed revision instruction after every attempt, all T attempts
    INTRINSIC = "intrinsic"  # alias


class PromptFormat(str, Enum):
    """What the model sees and how its replies are read (``rollout.prompt_format``,
    ``eval.prompt_format``; README, "Prompt protocol")."""

    plain = "plain"  # the task's own messages and answer format, the feedback as the user turn
    PLAIN = "plain"  # alias
    drift_full = "drift_full"  # the DRIFT authors' turn blocks (turn, state, actions, Reward:)
    DRIFT_FULL = "drift_full"  # alias
    drift_simple = "drift_simple"  # the DRIFT authors' problem once, then the feedback alone
    DRIFT_SIMPLE = "drift_simple"  # alias


class EvalSuite(str, Enum):
    drift_paper = "drift_paper"
    DRIFT_PAPER = "drift_paper"  # alias


class Benchmark(str, Enum):
    math500 = "math500"
    MATH500 = "math500"  # alias
    theoremqa = "theoremqa"
    THEOREMQA = "theoremqa"  # alias
    gpqa = "gpqa"
    GPQA = "gpqa"  # alias
    mmlu_redux = "mmlu_redux"
    MMLU_REDUX = "mmlu_redux"  # alias
    hendrycks_math = "hendrycks_math"
    HENDRYCKS_MATH = "hendrycks_math"  # alias
    mmlu_pro = "mmlu_pro"
    MMLU_PRO = "mmlu_pro"  # alias
