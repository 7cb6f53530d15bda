"""The generation protocol every rollout engine implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from drift.enums import EngineName
from drift.errors import ConfigError
from drift.plugins import choice_or_object, require_signature
from drift.types import Message

if TYPE_CHECKING:
    from drift.config import RolloutConfig
    from drift.models.config import ModelConfig


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings for one ``generate`` call; ``temperature == 0`` means greedy."""

    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be > 0, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def continues(conversation: list[Message]) -> bool:
    """Whether ``conversation`` ends with an assistant message (a prefill) to continue, rather
    than asking for a new assistant turn."""
    return bool(conversation) and conversation[-1]["role"] == "assistant"


def render_prompts(tokenizer: Any, conversations: Sequence[list[Message]]) -> list[str]:
    """The prompt text of each conversation under the tokenizer's chat template: the
    generation prompt appended, or, for one that :func:`continues`, its final assistant message
    left open (``continue_final_message``: the text ends with that message's content)."""
    out: list[str] = [""] * len(conversations)
    for flag in (False, True):
        idx = [i for i, c in enumerate(conversations) if continues(c) == flag]
        if not idx:
            continue
        texts = tokenizer.apply_chat_template(
            [conversations[i] for i in idx],
            tokenize=False,
            add_generation_prompt=not flag,
            continue_final_message=flag,
        )
        for i, text in zip(idx, texts, strict=True):
            out[i] = text
    return out


class Engine(Protocol):
    """Continues chat conversations: one assistant reply (text only) per conversation. A
    conversation that ends with an assistant message (a prefill) is continued from it, and the
    reply is the text after it."""

    def generate(
        self, conversations: Sequence[list[Message]], params: SamplingParams
    ) -> list[str]: ...


EngineFactory = Callable[["RolloutConfig", "ModelConfig", str], Engine]
"""``factory(rollout, model, policy) -> Engine``: a user's ``rollout.engine`` (README,
"Plug-ins"), given the rollout and model configs and the policy to generate with (an HF
directory or name). A class whose constructor takes these is one. An engine with a ``close()``
method is closed when its stage ends."""

KEY = "rollout.engine"
GENERATE = ("conversations", "params")


def user_engine_factory(name: EngineName | str) -> EngineFactory | None:
    """None for a built-in ``rollout.engine``, else the user's :data:`EngineFactory` at that
    dotted path (a class must have the :class:`Engine` protocol's ``generate``); a
    :class:`~drift.errors.ConfigError` naming the key and the path for anything else."""
    obj = choice_or_object(KEY, name, EngineName)
    if obj is None:
        return None
    require_signature(KEY, str(name), obj, ("rollout", "model", "policy"), "an engine factory")
    if isinstance(obj, type):
        require_engine(str(name), obj)
    return obj


def require_engine(path: str, engine: Any) -> None:
    """A ConfigError naming the key and ``path`` unless ``engine`` (an engine, or its class)
    has the :class:`Engine` protocol's ``generate(conversations, params)``."""
    generate = getattr(engine, "generate", None)
    if generate is None:
        what = engine.__name__ if isinstance(engine, type) else type(engine).__name__
        raise ConfigError(
            f"{KEY}={path}: {what} has no generate(conversations, params) "
            "method (the Engine protocol, drift/rollout/engine.py)"
        )
    params = ("self", *GENERATE) if isinstance(engine, type) else GENERATE
    require_signature(KEY, path, generate, params, "its generate")
