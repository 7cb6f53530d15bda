"""The prompts a run generates from, within ``rollout.max_prompt_tokens``.

Every problem set that reaches an engine (the train split the rollouts and GRPO sample from, the
test split of evaluation, the val queries of influence scoring) is loaded by
:func:`load_prompts`: the split's problems, less those whose prompt, rendered with the policy's
chat template and generation prompt as the engines render it, is longer than
``rollout.max_prompt_tokens`` tokens. One warning counts the skipped prompts and names the first
few (id, file:line, length); when none is left a :class:`DataError` says so. A single huge row
can therefore never reach ``generate``, where its attention and KV cache would grow without
bound. (Rows over 1 MiB never get this far: the loaders refuse them, see
:data:`drift.utils.io.MAX_RECORD_BYTES`.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from drift.config import DriftConfig
from drift.data.sources import load_problems
from drift.errors import DataError
from drift.rollout.engine import render_prompts
from drift.rollout.env import Environment
from drift.types import Message, Problem

log = logging.getLogger(__name__)

TOKENIZE_BATCH = 1024
"""Conversations rendered and tokenised per tokenizer call (only their lengths are kept)."""
SHOWN = 5
"""Skipped prompts named in the warning or error."""


def prompt_lengths(
    tokenizer: PreTrainedTokenizerBase, conversations: Sequence[list[Message]]
) -> list[int]:
    """Token length of each conversation with the generation prompt, as the engines send it
    (chat template rendered, then tokenised without extra special tokens), in batched calls."""
    lengths: list[int] = []
    for start in range(0, len(conversations), TOKENIZE_BATCH):
        batch = list(conversations[start : start + TOKENIZE_BATCH])
        texts = render_prompts(tokenizer, batch)
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        lengths.extend(len(x) for x in ids)
    return lengths


def _messages(problem: Problem) -> list[Message]:
    return problem.messages


def _describe(problem: Problem, length: int) -> str:
    source = problem.meta.get("source")
    return f"{problem.id} ({source}, {length} tokens)" if source else f"{problem.id} ({length})"


def fit_prompts(
    problems: list[Problem],
    tokenizer: PreTrainedTokenizerBase,
    max_tokens: int,
    what: str,
    opening: Callable[[Problem], list[Message]] | None = None,
) -> list[Problem]:
    """``problems`` whose prompt is at most ``max_tokens`` tokens long, in order.

    The prompt is ``opening(problem)``, the conversation the engine is first sent (default: the
    problem's messages). Skipped ones are counted in one warning naming the first :data:`SHOWN`
    of them; when every problem is skipped, DataError. ``what`` names the set in both (e.g.
    "split 'train'").
    """
    lengths = prompt_lengths(tokenizer, [(opening or _messages)(p) for p in problems])
    kept = [p for p, n in zip(problems, lengths, strict=True) if n <= max_tokens]
    if len(kept) == len(problems):
        return kept
    over = [(p, n) for p, n in zip(problems, lengths, strict=True) if n > max_tokens]
    shown = "; ".join(_describe(p, n) for p, n in over[:SHOWN])
    more = f"; and {len(over) - SHOWN} more" if len(over) > SHOWN else ""
    if not kept:
        raise DataError(
            f"{what}: all {len(problems)} prompts are longer than rollout.max_prompt_tokens="
            f"{max_tokens} tokens ({shown}{more}); shorten them or raise the limit"
        )
    log.warning(
        "%s: skipped %d of %d prompts longer than rollout.max_prompt_tokens=%d tokens: %s%s",
        what,
        len(over),
        len(problems),
        max_tokens,
        shown,
        more,
    )
    return kept


def load_prompts(cfg: DriftConfig, split: str, policy: str) -> list[Problem]:
    """The problems of ``split`` (:func:`~drift.data.sources.load_problems`) whose prompts fit
    ``cfg.rollout.max_prompt_tokens`` under the chat template of ``policy`` (an HF directory or
    hub name, whose tokenizer is loaded), each prompt as the split's prompt format opens an
    episode (``eval.prompt_format`` for the test split, ``rollout.prompt_format`` otherwise)."""
    problems = load_problems(cfg.task, split)
    if not problems:
        return problems
    tokenizer = AutoTokenizer.from_pretrained(policy, trust_remote_code=cfg.model.trust_remote_code)
    fmt = cfg.eval.prompt_format if split == "test" else cfg.rollout.prompt_format
    env = Environment.from_config(cfg.task, cfg.env, fmt, cfg.prompt)
    prefill = [{"role": "assistant", "content": env.prefill}] if env.prefill else []

    def opening(problem: Problem) -> list[Message]:
        return [*env.initial_messages(problem), *prefill]

    return fit_prompts(
        problems, tokenizer, cfg.rollout.max_prompt_tokens, f"split {split!r}", opening
    )
