"""Typed configuration: one dataclass per config group, checked when a run starts.

Hydra composes YAML from ``conf/``; :func:`load_config` merges it onto these dataclasses, so an
unknown key, a wrong type or a missing ``???`` value fails at start-up with the key named, and
each ``__post_init__`` rejects values that make no sense (``method.beta <= 0``, say).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from drift.attribution.config import FeatureConfig
from drift.attribution.scoring_config import PreconditionerName, ScoringConfig, ScoringMethod
from drift.attribution.study_config import StudyConfig
from drift.data.arithmetic import ArithmeticConfig
from drift.enums import (
    AnswerFormat,
    BatchOrder,
    Benchmark,
    DType,
    EngineName,
    EvalSuite,
    InfluenceCombine,
    LoggerName,
    LossTurns,
    MethodFamily,
    Normalize,
    PromptFormat,
    Protocol,
    RecordFormat,
    Schedule,
    TaskSource,
    Truncation,
    VerifierName,
    WandbMode,
    Weighting,
)
from drift.errors import ConfigError, require_identifier, require_non_negative, require_positive
from drift.models.config import ModelConfig, package_dir
from drift.overrides import refuse_unused_overrides
from drift.reward.verifiers import build_verifier
from drift.rollout.engine import user_engine_factory
from drift.training.grpo_config import AdvantageLevel, GRPOSettings, ScoreSettings
from drift.training.strategy_config import DeepSpeedSettings, FSDPSettings
from drift.utils.io import data_files
from drift.weighting.trajectory import user_weighting

__all__ = [
    "BatchOrder",
    "ConfigError",
    "DType",
    "DriftConfig",
    "EngineName",
    "EnvConfig",
    "InfluenceCombine",
    "LoggerName",
    "LossTurns",
    "MethodFamily",
    "Normalize",
    "PromptConfig",
    "PromptFormat",
    "Protocol",
    "RecordFormat",
    "Schedule",
    "TaskSource",
    "Truncation",
    "VerifierName",
    "WandbMode",
    "Weighting",
    "load_config",
]


@dataclass
class TaskConfig:
    """Where problems come from and the feedback environment around them.

    ``answer_format`` says how a turn's answer is read: ``tags`` (``<answer>…</answer>``, the
    embedded and math tasks) or ``last_number`` (free text, ``task=arithmetic``).
    ``arithmetic`` shapes ``task.name=arithmetic``'s problems.
    """

    name: TaskSource = field(
        default=TaskSource.EMBEDDED,
        metadata={
            "help": "where problems come from: embedded (the built-in task, no downloads), "
            "arithmetic (seeded natural-language arithmetic), file (task.files) or "
            "hf_dataset (task.dataset)"
        },
    )
    num_train: int = field(
        default=500,
        metadata={"help": "train problems a generated task (embedded, arithmetic) makes"},
    )
    num_val: int = field(
        default=64,
        metadata={
            "help": "val problems a generated task makes (0: none); influence draws its validation "
            "queries from them"
        },
    )
    num_test: int = field(
        default=500,
        metadata={"help": "test problems a generated task makes: the evaluation's"},
    )
    num_candidates: int = field(
        default=4,
        metadata={
            "help": "digits shown in each embedded problem, before its clue ('5 3 2 4 odd': 4)"
        },
    )
    seed: int = field(
        default=1234,
        metadata={"help": "seed of a generated task's problems"},
    )
    files: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "split -> a local JSONL/JSON/parquet/CSV file (task.name=file; train is "
            "required)"
        },
    )
    dataset: str | None = field(
        default=None,
        metadata={"help": "a Hugging Face datasets name (task.name=hf_dataset)"},
    )
    dataset_config: str | None = field(
        default=None,
        metadata={"help": "the dataset's configuration name (null: its default)"},
    )
    splits: dict[str, str] = field(
        default_factory=dict,
        metadata={
            "help": "split -> the dataset's split name (a split not listed keeps its own name)"
        },
    )
    format: RecordFormat = field(
        default=RecordFormat.AUTO,
        metadata={
            "help": "record format of files and datasets: auto (detected per record by its fields),"
            " metamathqa, math or drift"
        },
    )
    filter_type: str | None = field(
        default=None,
        metadata={
            "help": "metamathqa records only: keep those whose type starts with this (e.g. MATH_)"
        },
    )
    limit: int | None = field(
        default=None,
        metadata={"help": "at most this many problems per split (null: all)"},
    )
    sample_seed: int | None = field(
        default=None,
        metadata={
            "help": "permute the train split's problems (after filter_type) as "
            "datasets.Dataset.shuffle(seed=sample_seed) does before task.limit keeps the first "
            "N: a seeded sample, as the DRIFT authors draw their 1,800 prompts (seed 42)",
        },
    )
    system_prompt: str | None = field(
        default=None,
        metadata={
            "help": "system message before every problem (null: none, or the chat template's "
            "default)"
        },
    )
    feedback: str = field(
        default="Incorrect. Please think again.",
        metadata={"help": "what the user says after a wrong answer (env.protocol=oracle)"},
    )
    max_turns: int = field(
        default=5,
        metadata={"help": "answers per episode: at most (oracle protocol) or exactly (intrinsic)"},
    )
    answer_format: AnswerFormat = field(
        default=AnswerFormat.TAGS,
        metadata={
            "help": "how a turn's answer is read: tags (<answer>...</answer>) or last_number (the "
            "last number of free text)"
        },
    )
    arithmetic: ArithmeticConfig = field(
        default_factory=ArithmeticConfig,
        metadata={"help": "the problems of task.name=arithmetic"},
    )

    def __post_init__(self) -> None:
        for key in ("num_train", "num_test", "num_candidates", "max_turns"):
            require_positive(f"task.{key}", getattr(self, key))
        require_non_negative("task.num_val", self.num_val)
        if self.name == "file" and "train" not in self.files:
            raise ConfigError("task.files.train is required when task.name=file")
        if self.name == "hf_dataset" and not self.dataset:
            raise ConfigError("task.dataset is required when task.name=hf_dataset")
        if self.limit is not None:
            require_positive("task.limit", self.limit)


@dataclass
class RolloutConfig:
    """How trajectories are sampled from the reference policy.

    ``device`` places the ``hf`` engine's model (``null``: ``cuda`` when a GPU is visible, else
    ``cpu``). The fields after ``device`` configure ``engine: vllm`` only (``null`` = automatic:
    ``dtype`` follows ``model.dtype``; ``gpu_memory_utilization`` is 0.1 on CPU, 0.9 on GPU;
    ``enforce_eager`` is true on CPU, where compiling costs more start-up than it saves;
    ``max_model_len`` is the model's). ``engine_kwargs`` go to ``vllm.LLM`` as they are.
    """

    engine: str = field(
        default=EngineName.HF.value,
        metadata={"help": "hf, vllm, or a dotted path to your engine factory (README, Plug-ins)"},
    )
    num_samples: int = field(
        default=16,
        metadata={"help": "episodes sampled per training prompt"},
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "sampling temperature of the rollouts"},
    )
    top_p: float = field(
        default=1.0,
        metadata={"help": "nucleus sampling of the rollouts, in (0, 1]"},
    )
    max_new_tokens: int = field(
        default=24,
        metadata={"help": "new tokens per assistant turn"},
    )
    batch_size: int = field(
        default=1024,
        metadata={
            "help": "conversations per generation batch of the hf engine (vLLM schedules its own)"
        },
    )
    chunk_prompts: int = field(
        default=250,
        metadata={
            "help": "prompts per chunk of the rollout stage: the unit written to disk and resumed "
            "after an interruption"
        },
    )
    max_prompt_tokens: int = field(
        default=4096,
        metadata={
            "help": "longest prompt (chat template applied, in tokens) sent to generation; "
            "longer ones are skipped with a warning. 4096 holds any math problem with its "
            "instructions, and a stray huge row cannot exhaust memory"
        },
    )
    device: str | None = field(
        default=None,
        metadata={
            "help": "where the hf engine's model runs: cpu, cuda, cuda:N, mps or xpu (null: cuda "
            "when a GPU is visible, else cpu)"
        },
    )
    tensor_parallel_size: int = field(
        default=1,
        metadata={"help": "vllm: GPUs per engine"},
    )
    data_parallel_size: int = field(
        default=1,
        metadata={
            "help": "vllm: engines, each with tensor_parallel_size GPUs and a share of each turn"
        },
    )
    dtype: DType | None = field(
        default=None,
        metadata={"help": "vllm: the engine's dtype (null: model.dtype)"},
    )
    gpu_memory_utilization: float | None = field(
        default=None,
        metadata={
            "help": "vllm: share of GPU memory (null: 0.1 on CPU, whose KV cache is "
            "cpu_kvcache_space_gb; 0.9 on GPU)"
        },
    )
    max_model_len: int | None = field(
        default=None,
        metadata={"help": "vllm: context length (null: the model's)"},
    )
    enforce_eager: bool | None = field(
        default=None,
        metadata={
            "help": "vllm: no torch.compile (null: true on CPU, where compiling costs more start-up"
            " than it saves; false on GPU)"
        },
    )
    cpu_kvcache_space_gb: int = field(
        default=1,
        metadata={"help": "vllm on CPU: the KV cache in GiB (VLLM_CPU_KVCACHE_SPACE)"},
    )
    start_timeout_s: float = field(
        default=1800.0,
        metadata={"help": "vllm: seconds to wait for the engine's workers to be ready"},
    )
    engine_kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "vllm: more vllm.LLM arguments, as they are (e.g. {enable_prefix_caching: "
            "true})"
        },
    )
    prompt_format: PromptFormat = field(
        default=PromptFormat.PLAIN,
        metadata={
            "help": "plain (the task's messages), drift_full or drift_simple: the DRIFT authors' "
            "prompts, tags and <think> prefill (settings under prompt.*)"
        },
    )

    def __post_init__(self) -> None:
        for key in (
            "num_samples",
            "max_new_tokens",
            "batch_size",
            "chunk_prompts",
            "max_prompt_tokens",
        ):
            require_positive(f"rollout.{key}", getattr(self, key))
        user_engine_factory(self.engine)  # a dotted path is imported and checked here
        require_non_negative("rollout.temperature", self.temperature)
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"rollout.top_p must be in (0, 1], got {self.top_p}")
        for key in ("tensor_parallel_size", "data_parallel_size", "cpu_kvcache_space_gb"):
            require_positive(f"rollout.{key}", getattr(self, key))
        require_positive("rollout.start_timeout_s", self.start_timeout_s)
        if self.device is not None and not re.fullmatch(
            r"cpu|cuda(:\d+)?|mps|xpu(:\d+)?", self.device
        ):
            raise ConfigError(
                f"rollout.device must be cpu, cuda, cuda:N, mps or xpu, got {self.device!r}"
            )
        if self.max_model_len is not None:
            require_positive("rollout.max_model_len", self.max_model_len)
        util = self.gpu_memory_utilization
        if util is not None and not 0 < util <= 1:
            raise ConfigError(f"rollout.gpu_memory_utilization must be in (0, 1], got {util}")


@dataclass
class RewardConfig:
    """Verifier and the shape of the return: R = sum_t gamma^(t-1) r_t + penalties."""

    verifier: str = field(
        default=VerifierName.EXACT.value,
        metadata={
            "help": "exact, math_verify, or a dotted path to your verifier (README, Plug-ins)"
        },
    )
    gamma: float = field(
        default=0.9,
        metadata={
            "help": "discount of a later turn's correctness: R = sum_t gamma^(t-1) r_t - penalties;"
            " in (0, 1]"
        },
    )
    format_penalty: float = field(
        default=0.1,
        metadata={"help": "subtracted from the return per malformed turn"},
    )
    repetition_penalty: float = field(
        default=0.5,
        metadata={"help": "subtracted from the return times (1 - unique answers / answers)"},
    )
    score_malformed: bool = field(
        default=False,
        metadata={
            "help": "verify the answer of a malformed turn (correct if the verifier accepts it) "
            "and count it for the repetition term; by default a malformed turn is never correct "
            "and only well-formed answers count, as the DRIFT authors define them"
        },
    )

    def __post_init__(self) -> None:
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"reward.gamma must be in (0, 1], got {self.gamma}")
        build_verifier(self.verifier)  # a dotted path is imported and checked here
        require_non_negative("reward.format_penalty", self.format_penalty)
        require_non_negative("reward.repetition_penalty", self.repetition_penalty)


DEFAULT_INSTRUCTION = (
    "There may be an error in your answer. Review it, correct it if needed, and end with "
    "your final answer."
)


@dataclass
class EnvConfig:
    """The user side of a multi-turn episode (README, "Protocols"; docs/metrics.md).

    ``protocol``: ``oracle`` says ``task.feedback`` after a wrong answer and ends the episode at
    the first correct one (or after ``task.max_turns`` answers); ``intrinsic`` runs every
    episode for ``task.max_turns`` answers, each but the last followed by ``instruction``, so
    the verifier only scores and is never shown to the model. Under ``intrinsic`` the return is
    the last answer's correctness plus ``shaping_alpha`` * (r_T - r_1), SCoRe's shaped bonus
    (:func:`drift.reward.returns.turn_contributions`).
    """

    protocol: Protocol = field(
        default=Protocol.ORACLE,
        metadata={
            "help": "oracle: task.feedback after a wrong answer, the episode ends at the first "
            "right one; intrinsic: task.max_turns answers, each but the last followed by "
            "env.instruction, the verdict never shown"
        },
    )
    instruction: str = field(
        default=DEFAULT_INSTRUCTION,
        metadata={
            "help": "what the user says after every answer but the last (env.protocol=intrinsic)"
        },
    )
    shaping_alpha: float = field(
        default=0.0,
        metadata={
            "help": "intrinsic protocol: SCoRe's shaped bonus shaping_alpha * (r_T - r_1) on the "
            "return"
        },
    )

    def __post_init__(self) -> None:
        require_non_negative("env.shaping_alpha", self.shaping_alpha)
        if self.protocol == Protocol.INTRINSIC and not self.instruction.strip():
            raise ConfigError("env.instruction must not be empty when env.protocol=intrinsic")


@dataclass
class InfluenceConfig:
    """On-policy influence of each round's trajectories and how it changes their weights.

    The validation targets are ``rollouts_per_query`` episodes of at most ``val_max_turns``
    turns (``null``: ``task.max_turns``) drawn by the round's policy on the first
    ``num_queries`` problems of the val split. ``combine``: ``product`` multiplies each return
    weight by exp(z / ``temperature``), z the influence standardised over all trajectories;
    ``drop_negative`` zeroes the weight of trajectories with negative influence. Both then
    renormalise the weights to mean 1 per prompt, as DRIFT-IW does.
    """

    combine: InfluenceCombine = field(
        default=InfluenceCombine.PRODUCT,
        metadata={
            "help": "product: each weight times exp(z / temperature), z the standardised influence;"
            " drop_negative: zero weight for negative influence"
        },
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "product's temperature: the larger, the closer to drift_iw's weights"},
    )
    num_queries: int = field(
        default=64,
        metadata={"help": "validation queries: the first problems of the val split"},
    )
    rollouts_per_query: int = field(
        default=8,
        metadata={"help": "episodes the round's policy draws per validation query"},
    )
    val_max_turns: int | None = field(
        default=None,
        metadata={"help": "turns of those episodes at most (null: task.max_turns)"},
    )

    def __post_init__(self) -> None:
        for key in ("temperature", "num_queries", "rollouts_per_query"):
            require_positive(f"method.influence.{key}", getattr(self, key))
        if self.val_max_turns is not None:
            require_positive("method.influence.val_max_turns", self.val_max_turns)


@dataclass
class MethodConfig:
    """One method: how its training data is made (weights, selection or online RL) and trained.

    ``family`` picks the pipeline: ``iw`` weighs shared rollouts (reference, uniform SFT, RFT,
    DRIFT-IW), ``attribution`` scores and refines a data pool, ``grpo`` trains online (``score``,
    family ``grpo``: SCoRe's two stages as phases of the GRPO run, :class:`ScoreSettings`).
    ``scoring`` (attribution family) says how the pool is scored and refined; ``null`` keeps
    the whole pool (the ``full`` baseline). ``influence`` (iw family: ``drift_iw_if``) scores
    every round's trajectories with the ``drift_if`` scorer of ``scoring`` (its refinement keys
    are unused) and combines the scores with the weights.
    """

    name: str = field(
        default="???",
        metadata={"help": "the method's name: its directory and its key in the results"},
    )
    family: MethodFamily = field(
        default=MethodFamily.IW,
        metadata={
            "help": "iw: weights shared rollouts (reference, uniform_sft, rft, drift_iw); "
            "attribution: scores and refines a data pool; grpo: trains online"
        },
    )
    train: bool = field(
        default=True,
        metadata={"help": "false: evaluate the reference policy without training it"},
    )
    weighting: str = field(
        default=Weighting.UNIFORM.value,
        metadata={
            "help": "uniform, drift_iw, rft, or a dotted path to your weighting (README, Plug-ins)"
        },
    )
    beta: float = field(
        default=0.1,
        metadata={
            "help": "DRIFT-IW's temperature: weights exp(R / beta), normalised to mean 1 per prompt"
        },
    )
    normalize: Normalize = field(
        default=Normalize.MEAN,
        metadata={
            "help": "a step's loss divided by its number of examples (mean) or the sum of their "
            "weights (weight_sum)"
        },
    )
    loss_turns: LossTurns = field(
        default=LossTurns.FINAL,
        metadata={"help": "assistant turns that carry the loss: final (the last) or all"},
    )
    batch_order: BatchOrder = field(
        default=BatchOrder.SHUFFLE,
        metadata={
            "help": "shuffle: a seeded shuffle of the trajectories; prompt_groups: rollout "
            "order, unshuffled (the DRIFT authors' --disable_shuffle), so that each optimiser "
            "step holds whole groups of a prompt's trajectories"
        },
    )
    rounds: int = field(
        default=1,
        metadata={
            "help": "> 1: iterated DRIFT-IW, each round re-samples from the last round's policy"
        },
    )
    scoring: ScoringConfig | None = field(
        default=None,
        metadata={
            "help": "how the attribution pool is scored and refined (null: the whole pool); with "
            "influence, the drift_if scorer"
        },
    )
    influence: InfluenceConfig | None = field(
        default=None,
        metadata={
            "help": "on-policy influence that changes the weights of every round (null: none)"
        },
    )
    grpo: GRPOSettings | None = field(
        default=None,
        metadata={"help": "the GRPO trainer's settings (family grpo)"},
    )
    score: ScoreSettings | None = field(
        default=None,
        metadata={"help": "SCoRe's two stages on the GRPO trainer (null: plain GRPO)"},
    )

    def __post_init__(self) -> None:
        if self.name != MISSING:  # the dataclass default; a loaded config always has a name
            require_identifier("method.name", self.name)
        require_positive("method.beta", self.beta)
        user_weighting(self.weighting)  # a dotted path is imported and checked here
        require_positive("method.rounds", self.rounds)
        if self.family == MethodFamily.GRPO and self.grpo is None:
            raise ConfigError("method.grpo must hold the GRPO settings when method.family=grpo")
        if self.influence is not None:
            self._check_influence()
        if self.score is not None:
            self._check_score()

    def _check_score(self) -> None:
        assert self.score is not None
        if self.family != MethodFamily.GRPO or self.grpo is None:
            raise ConfigError(
                "method.score (SCoRe) runs on the GRPO trainer: it needs method.family=grpo and "
                f"method.grpo, got family={self.family.value}"
            )
        if self.grpo.advantage != AdvantageLevel.TURN:
            raise ConfigError(
                "method.score weighs the KL per attempt through turn-level credit: "
                f"method.grpo.advantage must be turn, got {self.grpo.advantage.value}"
            )
        if self.score.stage1_steps >= self.grpo.steps:
            raise ConfigError(
                f"method.score.stage1_steps ({self.score.stage1_steps}) must be below "
                f"method.grpo.steps ({self.grpo.steps}), the steps of both stages: stage II "
                "gets the rest"
            )

    def _check_influence(self) -> None:
        if self.family != MethodFamily.IW:
            raise ConfigError(
                f"method.influence applies to family=iw only, got family={self.family.value}"
            )
        if self.scoring is None or self.scoring.method != ScoringMethod.DRIFT_IF:
            raise ConfigError(
                "method.scoring must hold the influence scorer (method.scoring.method=drift_if) "
                "when method.influence is set"
            )
        if self.scoring.preconditioner not in (
            PreconditionerName.IDENTITY,
            PreconditionerName.FISHER,
        ):
            raise ConfigError(
                "method.scoring.preconditioner must be identity or fisher with method.influence, "
                f"got {self.scoring.preconditioner.value}"
            )


@dataclass
class TrainerConfig:
    """Optimisation and Lightning settings shared by every method.

    ``strategy`` is Lightning's; ``fsdp`` and ``deepspeed`` build those strategies from
    ``trainer.fsdp`` / ``trainer.deepspeed`` (:mod:`drift.training.strategy`).
    """

    max_epochs: int = field(
        default=1,
        metadata={"help": "passes over the training examples"},
    )
    max_steps: int = field(
        default=-1,
        metadata={"help": "optimiser steps at most (-1: no limit); caps GRPO's steps too"},
    )
    micro_batch_size: int = field(
        default=64,
        metadata={"help": "examples per forward and backward on each device"},
    )
    effective_batch_size: int = field(
        default=64,
        metadata={
            "help": "examples per optimiser step: a multiple of micro_batch_size x devices x "
            "num_nodes, the rest by gradient accumulation"
        },
    )
    lr: float = field(
        default=1e-3,
        metadata={"help": "AdamW's learning rate"},
    )
    weight_decay: float = field(
        default=0.0,
        metadata={"help": "AdamW's weight decay"},
    )
    warmup_ratio: float = field(
        default=0.0,
        metadata={"help": "share of the optimiser steps with linear warm-up from 0, in [0, 1)"},
    )
    schedule: Schedule = field(
        default=Schedule.CONSTANT,
        metadata={
            "help": "learning-rate schedule after the warm-up: constant, linear or cosine "
            "(transformers.get_scheduler)"
        },
    )
    grad_clip: float = field(
        default=1.0,
        metadata={"help": "gradient norm clipping (0: none)"},
    )
    accelerator: str = field(
        default="cpu",
        metadata={"help": "Lightning's accelerator: cpu, gpu, ..."},
    )
    devices: int = field(
        default=1,
        metadata={"help": "devices per node"},
    )
    num_nodes: int = field(
        default=1,
        metadata={"help": "nodes"},
    )
    strategy: str = field(
        default="auto",
        metadata={
            "help": "Lightning's strategy: auto, ddp, fsdp or deepspeed (the last two built from "
            "trainer.fsdp and trainer.deepspeed)"
        },
    )
    precision: str = field(
        default="32-true",
        metadata={"help": "Lightning's precision: 32-true, bf16-mixed, ..."},
    )
    max_length: int = field(
        default=256,
        metadata={"help": "tokens per training example at most; longer ones are truncated"},
    )
    truncation: Truncation = field(
        default=Truncation.RIGHT,
        metadata={
            "help": "which end of a training example longer than max_length is cut: right keeps "
            "the first tokens, left the last ones, with the final answer (the DRIFT authors')",
        },
    )
    num_workers: int = field(
        default=0,
        metadata={"help": "DataLoader worker processes"},
    )
    log_every_n_steps: int = field(
        default=10,
        metadata={"help": "Lightning logs metrics every this many optimiser steps"},
    )
    keep_checkpoints: bool = field(
        default=False,
        metadata={
            "help": "keep Lightning's checkpoint (weights and optimiser state) after a fit; by "
            "default it is deleted when the fit ends, the exported HF policy being the result"
        },
    )
    fsdp: FSDPSettings = field(
        default_factory=FSDPSettings,
        metadata={"help": "FSDP's settings (strategy fsdp)"},
    )
    deepspeed: DeepSpeedSettings = field(
        default_factory=DeepSpeedSettings,
        metadata={"help": "DeepSpeed's settings (strategy deepspeed)"},
    )

    def __post_init__(self) -> None:
        for key in ("max_epochs", "micro_batch_size", "effective_batch_size", "lr", "devices"):
            require_positive(f"trainer.{key}", getattr(self, key))
        require_non_negative("trainer.weight_decay", self.weight_decay)
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"trainer.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        per_step = self.micro_batch_size * self.devices * self.num_nodes
        if self.effective_batch_size % per_step:
            raise ConfigError(
                "trainer.effective_batch_size must be a multiple of trainer.micro_batch_size "
                f"x devices x nodes ({per_step}), got {self.effective_batch_size}"
            )

    @property
    def accumulate_grad_batches(self) -> int:
        return self.effective_batch_size // (self.micro_batch_size * self.devices * self.num_nodes)


DRIFT_SYSTEM = "You're a helpful assistant. "
DRIFT_ANSWER_INSTRUCTION = (
    "You are solving Math problems. Only give the final answer between <answer> and </answer>."
)


@dataclass
class PromptConfig:
    """The DRIFT authors' prompt protocol, used by ``prompt_format`` ``drift_full`` and
    ``drift_simple`` (:mod:`drift.rollout.formats`; README, "Prompt protocol").

    ``system`` and ``answer_instruction`` open every conversation; ``think`` asks for
    ``<think> … </think> <answer> … </answer>`` and prefills the reply with ``<think>`` (else
    ``<answer> … </answer>`` and ``<answer>``); ``max_words`` is the length line's number (the
    authors' ``instruction_max_tokens``); a turn's answer is the first part of its ``<answer>``
    text split on ``action_sep`` (one action per turn, as the authors' run sets it).
    """

    system: str = field(
        default=DRIFT_SYSTEM,
        metadata={"help": "the system message that opens every conversation"},
    )
    answer_instruction: str = field(
        default=DRIFT_ANSWER_INSTRUCTION,
        metadata={"help": "the instruction after it: where the answer goes"},
    )
    think: bool = field(
        default=True,
        metadata={
            "help": "ask for <think> ... </think> <answer> ... </answer> and prefill the reply with"
            " <think> (false: <answer> ... </answer>, prefilled with <answer>)"
        },
    )
    max_words: int = field(
        default=400,
        metadata={
            "help": "the length line's number, 'Max response length: N words (tokens).' "
            "(drift_full's turn blocks; the authors' instruction_max_tokens)"
        },
    )
    action_sep: str = field(
        default="||",
        metadata={
            "help": "a turn's <answer> text is split on it; the first part is the turn's answer"
        },
    )

    def __post_init__(self) -> None:
        require_positive("prompt.max_words", self.max_words)
        if not self.action_sep:
            raise ConfigError("prompt.action_sep must not be empty")


BENCHMARK_DIR = "data/drift_paper"
"""Where ``eval.suite=drift_paper`` looks for each benchmark by default: ``<dir>/<name>``."""


@dataclass
class BenchmarkConfig:
    """One benchmark of ``eval.suite``: ``path`` is a file (JSONL, JSON, parquet or CSV) or a
    directory of them (one file per subset, read in name order); ``limit`` keeps the first N
    problems after the DRIFT authors' shuffle (all when null)."""

    path: str = field(
        default=MISSING,
        metadata={
            "help": "a JSONL/JSON/parquet/CSV file, a directory of them or a glob, relative to "
            "where drift runs"
        },
    )
    limit: int | None = field(
        default=None,
        metadata={"help": "the first N problems after the DRIFT authors' shuffle (null: all)"},
    )


def _suite_benchmarks() -> dict[str, BenchmarkConfig]:
    return {b.value: BenchmarkConfig(f"{BENCHMARK_DIR}/{b.value}") for b in Benchmark}


@dataclass
class EvalConfig:
    """Multi-turn evaluation on the test split: greedy, plus optional sampled episodes; with
    ``suite`` set, also the suite's benchmarks (``suite_benchmarks``, files at
    ``benchmarks.<name>.path``), greedy, in ``suite_max_turns`` turns of at most
    ``suite_max_new_tokens`` tokens (README, "The DRIFT paper's benchmarks")."""

    greedy: bool = field(
        default=True,
        metadata={"help": "greedy episodes on the test split"},
    )
    sampled_samples: int = field(
        default=4,
        metadata={"help": "sampled episodes per test problem (0: none)"},
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "temperature of the sampled episodes"},
    )
    max_new_tokens: int = field(
        default=24,
        metadata={
            "help": "new tokens per assistant turn (conf/config.yaml: rollout.max_new_tokens)"
        },
    )
    batch_size: int = field(
        default=1024,
        metadata={
            "help": "conversations per generation batch (conf/config.yaml: rollout.batch_size)"
        },
    )
    prompt_format: PromptFormat = field(
        default=PromptFormat.PLAIN,
        metadata={
            "help": "plain (the task's messages), drift_full or drift_simple: the DRIFT authors' "
            "prompts (settings under prompt.*)"
        },
    )
    suite: EvalSuite | None = field(
        default=None,
        metadata={
            "help": "drift_paper: after the test split, also the DRIFT paper's six benchmarks, "
            "greedy (null: none)"
        },
    )
    suite_benchmarks: list[str] = field(
        default_factory=lambda: [b.value for b in Benchmark],
        metadata={"help": "the suite's benchmarks that run"},
    )
    benchmarks: dict[str, BenchmarkConfig] = field(
        default_factory=_suite_benchmarks,
        metadata={
            "help": "name -> where each benchmark's test split is read from, and how many of its "
            "problems"
        },
    )
    suite_max_turns: int = field(
        default=5,
        metadata={"help": "turns per benchmark episode"},
    )
    suite_max_new_tokens: int = field(
        default=1024,
        metadata={"help": "new tokens per turn on the benchmarks"},
    )

    def __post_init__(self) -> None:
        require_non_negative("eval.sampled_samples", self.sampled_samples)
        require_positive("eval.max_new_tokens", self.max_new_tokens)
        require_positive("eval.suite_max_turns", self.suite_max_turns)
        require_positive("eval.suite_max_new_tokens", self.suite_max_new_tokens)
        if self.suite is not None:
            self._check_suite()

    def _check_suite(self) -> None:
        """Every benchmark the suite runs is known and its file or directory exists."""
        known = [b.value for b in Benchmark]
        for key, names in (
            ("suite_benchmarks", self.suite_benchmarks),
            ("benchmarks", self.benchmarks),
        ):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ConfigError(f"eval.{key}: unknown {unknown}; the benchmarks are {known}")
        if not self.suite_benchmarks:
            raise ConfigError(f"eval.suite_benchmarks is empty; choose among {known}")
        for name in self.suite_benchmarks:
            if name not in self.benchmarks:
                raise ConfigError(f"eval.benchmarks.{name}.path is not set")
            bench = self.benchmarks[name]
            if bench.limit is not None:
                require_positive(f"eval.benchmarks.{name}.limit", bench.limit)
            if not data_files(bench.path):
                raise ConfigError(
                    f"eval.benchmarks.{name}.path: no .jsonl, .json, .parquet or .csv file at "
                    f"{bench.path} (relative paths start where drift runs). Put the benchmark's "
                    f"test split there or set the path to your copy (README, \"The DRIFT paper's "
                    f'benchmarks"), or leave {name} out of eval.suite_benchmarks'
                )


WANDB_RESUME = ("allow", "must", "never", "auto")
WANDB_LOG_MODEL = {"false": False, "true": True, "all": "all"}


@dataclass
class LoggerConfig:
    """Where metrics go: nowhere but files, a CSV logger, or Weights & Biases.

    The W&B keys go to Lightning's ``WandbLogger`` (and through it to ``wandb.init``)."""

    name: LoggerName = field(
        default=LoggerName.CSV,
        metadata={"help": "csv (Lightning's CSV logger in the run directory), wandb or none"},
    )
    project: str = field(
        default="drift",
        metadata={"help": "W&B project"},
    )
    group: str | None = field(
        default=None,
        metadata={"help": "W&B group (null: none)"},
    )
    mode: WandbMode = field(
        default=WandbMode.OFFLINE,
        metadata={"help": "W&B mode: offline (no account needed; wandb sync later) or online"},
    )
    tags: list[str] = field(
        default_factory=list,
        metadata={"help": "W&B tags"},
    )
    entity: str | None = field(
        default=None, metadata={"help": "W&B team or user the runs go to (null: your default)"}
    )
    id: str | None = field(
        default=None,
        metadata={
            "help": "W&B run id, to resume a run with logger.resume; in a comparison each "
            "method's run gets <id>-<method>"
        },
    )
    resume: str | None = field(
        default=None,
        metadata={"help": "wandb.init's resume: allow, must, never or auto (null: a new run)"},
    )
    log_model: str = field(
        default="false",
        metadata={
            "help": "WandbLogger's log_model: true logs each fit's Lightning checkpoint as a "
            "model artifact when the fit ends (before drift deletes it), all every checkpoint "
            "saved, false none"
        },
    )
    kwargs: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "more keyword arguments for WandbLogger / wandb.init, as they are"},
    )

    def __post_init__(self) -> None:
        if self.resume is not None and self.resume not in WANDB_RESUME:
            raise ConfigError(
                f"logger.resume must be one of {', '.join(WANDB_RESUME)} or null, got "
                f"{self.resume!r}"
            )
        if str(self.log_model).lower() not in WANDB_LOG_MODEL:
            raise ConfigError(
                f"logger.log_model must be true, false or all, got {self.log_model!r}"
            )


@dataclass
class PathsConfig:
    """Run directory (Hydra's) and the cache shared by runs with the same upstream config."""

    root_dir: str = field(
        default=".",
        metadata={"help": "where everything is written (conf/paths: $DRIFT_ROOT, else .)"},
    )
    log_dir: str = field(
        default="outputs",
        metadata={"help": "runs and multiruns go under it"},
    )
    output_dir: str = field(
        default="outputs/run",
        metadata={"help": "this run's directory (Hydra's)"},
    )
    cache_dir: str = field(
        default="outputs/cache",
        metadata={
            "help": "artifacts keyed by the hash of the config that built them (reference model, "
            "rollouts), shared by every run and seed that needs the same one"
        },
    )


@dataclass
class DriftConfig:
    """The whole run. ``compare`` (name -> method) runs several methods on shared artifacts."""

    seed: int = field(
        default=0,
        metadata={"help": "the run's seed"},
    )
    name: str = field(
        default="default",
        metadata={
            "help": "the run's name, in its directory <time>_<name> (conf/config.yaml: the "
            "method's)"
        },
    )
    task: TaskConfig = field(
        default_factory=TaskConfig,
        metadata={"help": "where problems come from and the episode around them"},
    )
    model: ModelConfig = field(
        default_factory=ModelConfig,
        metadata={"help": "the model a run starts from"},
    )
    method: MethodConfig = field(
        default_factory=MethodConfig,
        metadata={"help": "the method of a single-method run"},
    )
    compare: dict[str, MethodConfig] = field(
        default_factory=dict,
        metadata={
            "help": "name -> method: the methods a preset compares on shared artifacts (empty: "
            "method alone)"
        },
    )
    rollout: RolloutConfig = field(
        default_factory=RolloutConfig,
        metadata={"help": "how trajectories are sampled from the reference policy"},
    )
    reward: RewardConfig = field(
        default_factory=RewardConfig,
        metadata={"help": "the verifier and the shape of the return"},
    )
    env: EnvConfig = field(
        default_factory=EnvConfig,
        metadata={"help": "the user side of a multi-turn episode"},
    )
    prompt: PromptConfig = field(
        default_factory=PromptConfig,
        metadata={"help": "the DRIFT authors' prompt protocol"},
    )
    trainer: TrainerConfig = field(
        default_factory=TrainerConfig,
        metadata={"help": "optimisation and Lightning settings shared by every method"},
    )
    eval: EvalConfig = field(
        default_factory=EvalConfig,
        metadata={"help": "the multi-turn evaluation after training"},
    )
    logger: LoggerConfig = field(
        default_factory=LoggerConfig,
        metadata={"help": "where metrics go"},
    )
    paths: PathsConfig = field(
        default_factory=PathsConfig,
        metadata={"help": "where a run writes"},
    )
    attribution: FeatureConfig = field(
        default_factory=FeatureConfig,
        metadata={"help": "per-example gradient features"},
    )
    study: StudyConfig = field(
        default_factory=StudyConfig,
        metadata={"help": "the attribution study"},
    )
    objective: str = field(
        default="acc@5",
        metadata={
            "help": "the metric a single-method run returns to a sweeper, which maximises it "
            "(conf/config.yaml: acc@<task.max_turns>)"
        },
    )
    num_threads: int | None = field(
        default=None,
        metadata={
            "help": "CPU threads for torch (null: torch's default); on a busy machine 1 per process"
            " avoids OpenMP spin-waiting"
        },
    )

    def __post_init__(self) -> None:
        require_identifier("name", self.name)
        for key in self.compare:  # method names become directories of the run
            require_identifier(f"compare.{key}", key)
        if self.num_threads is not None:
            require_positive("num_threads", self.num_threads)
        if self.env.protocol == Protocol.INTRINSIC:
            for key in ("rollout", "eval"):
                if getattr(self, key).prompt_format == PromptFormat.DRIFT_FULL:
                    raise ConfigError(
                        f"{key}.prompt_format=drift_full shows a 'Reward:' line, the verifier's "
                        "verdict, which env.protocol=intrinsic never shows: use drift_simple"
                    )
        influence = [n for n, m in self.methods().items() if m.train and m.influence is not None]
        if influence and self.task.name == TaskSource.EMBEDDED and self.task.num_val == 0:
            raise ConfigError(
                f"task.num_val must be > 0: {influence[0]} draws its validation targets from "
                "the val split"
            )
        # The metric a single-method run returns to Hydra's sweeper (Optuna maximises it).
        acc = re.fullmatch(r"(?:sampled/)?acc@t?(\d+)", self.objective)
        if not self.objective.strip() or (acc and not 1 <= int(acc[1]) <= self.task.max_turns):
            raise ConfigError(
                f"objective must name a metric (acc@k or acc@tk with 1 <= k <= task.max_turns="
                f"{self.task.max_turns}, correction_rate, delta, ...), got '{self.objective}'"
            )
        self._check_score()
        self._check_prompt_groups()

    def methods(self) -> dict[str, MethodConfig]:
        """The methods this run trains and evaluates, in order."""
        return dict(self.compare) if self.compare else {self.method.name: self.method}

    def _check_prompt_groups(self) -> None:
        """``batch_order=prompt_groups`` steps hold whole groups: a multiple of their size."""
        grouped = [
            n
            for n, m in self.methods().items()
            if m.train and m.family == MethodFamily.IW and m.batch_order == BatchOrder.PROMPT_GROUPS
        ]
        if grouped and self.trainer.effective_batch_size % self.rollout.num_samples:
            raise ConfigError(
                f"{grouped[0]}: method.batch_order=prompt_groups needs "
                "trainer.effective_batch_size to be a multiple of rollout.num_samples (whole "
                f"groups per optimiser step), got {self.trainer.effective_batch_size} and "
                f"{self.rollout.num_samples}"
            )

    def _check_score(self) -> None:
        """SCoRe trains two-attempt intrinsic self-correction: its episodes must be that."""
        score = [n for n, m in self.methods().items() if m.train and m.score is not None]
        if not score:
            return
        if self.env.protocol != Protocol.INTRINSIC or self.task.max_turns != 2:
            raise ConfigError(
                f"{score[0]} (SCoRe) trains two attempts under the intrinsic protocol: set "
                "env.protocol=intrinsic task.max_turns=2 (experiment=intrinsic_demo does), got "
                f"env.protocol={self.env.protocol.value} task.max_turns={self.task.max_turns}"
            )


OmegaConf.register_new_resolver("package_dir", package_dir, replace=True)

SCHEMA = "drift_schema"
"""The name under which :class:`DriftConfig` is stored in Hydra's ConfigStore: the first entry
of ``conf/config.yaml``'s defaults, so every group file is merged onto its dataclass and holds
only what differs from the defaults written here."""
ConfigStore.instance().store(name=SCHEMA, node=DriftConfig)


def load_config(cfg: DictConfig | dict[str, Any]) -> DriftConfig:
    """Check a composed config against :class:`DriftConfig` and return the typed object."""
    raw = OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg.copy()
    with_hydra = "hydra" in raw
    if with_hydra:
        choices = raw.hydra.runtime.choices
        refuse_unused_overrides(raw, raw.hydra.overrides.task, choices)
        raw = OmegaConf.masked_copy(raw, [k for k in raw if k != "hydra"])
    try:
        # as plain containers: a key that Hydra force-added (`+method.x=1`) is not in the schema
        merged = OmegaConf.merge(OmegaConf.structured(DriftConfig), OmegaConf.to_container(raw))
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None)
        msg = str(err.msg).splitlines()[0]
        raise ConfigError(f"invalid config at '{key}': {msg}" if key else msg) from None
    assert isinstance(obj, DriftConfig)
    return obj
