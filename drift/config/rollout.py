"""The ``rollout`` group: how trajectories are sampled from the reference policy."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from drift.enums import DType, EngineName, PromptFormat
from drift.errors import ConfigError, require_non_negative, require_positive
from drift.rollout.engine import user_engine_factory


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
        default=EngineName.hf.value,
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
        default=PromptFormat.plain,
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
