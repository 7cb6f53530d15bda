"""Tokenise conversations with a chat template and mark which tokens carry the loss.

Stock chat templates rarely have ``{% generation %}`` markers, so the assistant mask is built by
rendering the conversation prefix by prefix and diffing token spans: the tokens of an
assistant turn are those between "everything before it + generation prompt" and "everything
up to and including it". The span is cut right after its last eos token, so it covers the
assistant's content and its closing eos (``<|end|>``, ChatML's ``<|im_end|>``) but not a
newline a template puts after it. A prefix that is not a token-prefix of the whole
conversation (a template that rewrites earlier turns, merges across turn boundaries) raises
``ValueError``: the mask would be wrong.

An example with a ``prefill`` (the DRIFT prompt formats: every assistant turn starts with
``<think>``, which the engine wrote into the prompt, not the model) is cut at text boundaries
instead: the conversation's text is split where each supervised turn's prefill ends and where
the turn ends, each piece is tokenised on its own, and the loss covers the pieces from after the
prefill to the end of the turn (to its last eos). The tokens before a reply are then exactly the
prompt the engine tokenised (generation prompt + prefill, one piece), and the trained tokens
are the reply's own, whether or not a tokenizer would merge the prefill's last characters with
the reply's first.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from drift.enums import Truncation
from drift.types import Message, TrainExample

log = logging.getLogger(__name__)


@dataclass
class EncodedExample:
    """A tokenised training conversation: ``input_ids`` [T], ``loss_mask`` [T] (0/1), weight."""

    id: str
    input_ids: list[int]
    loss_mask: list[int]
    weight: float


def _render(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message], generation_prompt: bool
) -> str:
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt
    )
    assert isinstance(text, str)
    return text


def _tokenize(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    """Token ids of each text, as ``apply_chat_template(tokenize=True)`` would produce them."""
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


def prompt_ids(
    tokenizer: PreTrainedTokenizerBase, messages: list[Message], prefill: str = ""
) -> list[int]:
    """Token ids of ``messages`` followed by the generation prompt (the assistant's header) and
    ``prefill``, tokenised as one piece, as a prefilled example's encoding starts."""
    return _tokenize(tokenizer, [_render(tokenizer, messages, generation_prompt=True) + prefill])[0]


def _supervised_turns(example: TrainExample) -> list[int]:
    turns = [i for i, m in enumerate(example.messages) if m["role"] == "assistant"]
    if not turns:
        raise ValueError(f"example {example.id!r} has no assistant message to train on")
    if example.loss_turns == "final":
        return turns[-1:]
    if example.loss_turns == "all":
        return turns
    raise ValueError(f"example {example.id!r}: loss_turns must be 'final' or 'all'")


def _renders(tokenizer: PreTrainedTokenizerBase, example: TrainExample) -> list[str]:
    """Whole conversation, then (before, through) prefixes for each supervised turn."""
    texts = [_render(tokenizer, example.messages, generation_prompt=False)]
    for i in _supervised_turns(example):
        texts.append(_render(tokenizer, example.messages[:i], generation_prompt=True))
        texts.append(_render(tokenizer, example.messages[: i + 1], generation_prompt=False))
    return texts


def _span_end(ids: list[int], start: int, stop: int, eos_id: int | None) -> int:
    """End of the supervised span ``ids[start:stop]``: just after its last eos, if it has one."""
    for pos in range(stop - 1, start - 1, -1):
        if ids[pos] == eos_id:
            return pos + 1
    return stop


def _mask(example: TrainExample, ids: list[list[int]], eos_id: int | None) -> list[int]:
    """Loss mask [T] over ``ids[0]`` from the prefix tokenisations ``ids[1:]``."""
    full = ids[0]
    mask = [0] * len(full)
    for before, through in zip(ids[1::2], ids[2::2], strict=True):
        for prefix in (before, through):
            if full[: len(prefix)] != prefix:
                raise ValueError(
                    f"example {example.id!r}: a rendered prefix of the conversation is not a "
                    "token-prefix of the whole; the chat template rewrites earlier turns or "
                    "tokens merge across turns, so assistant masks cannot be built by diffing"
                )
        start, stop = len(before), len(through)
        end = _span_end(full, start, stop, eos_id)
        mask[start:end] = [1] * (end - start)
    return mask


def _prefilled_pieces(
    tokenizer: PreTrainedTokenizerBase, example: TrainExample
) -> tuple[list[str], list[int]]:
    """The text of a prefilled example cut into pieces, and which pieces carry the loss."""
    full = _render(tokenizer, example.messages, generation_prompt=False)
    cuts: dict[int, bool] = {}  # cut position -> the piece starting there carries the loss
    for i in _supervised_turns(example):
        content = example.messages[i]["content"]
        if not content.startswith(example.prefill):
            raise ValueError(
                f"example {example.id!r}: assistant turn {i} does not start with the prefill "
                f"{example.prefill!r}"
            )
        before = _render(tokenizer, example.messages[:i], generation_prompt=True)
        through = _render(tokenizer, example.messages[: i + 1], generation_prompt=False)
        start = before + example.prefill
        if not full.startswith(start) or not full.startswith(through):
            raise ValueError(
                f"example {example.id!r}: a rendered prefix of the conversation is not a text "
                "prefix of the whole; the chat template rewrites earlier turns"
            )
        cuts[len(start)] = True
        cuts.setdefault(len(through), False)
    bounds = sorted({0, *cuts, len(full)})
    pieces = [full[a:b] for a, b in itertools.pairwise(bounds)]
    return pieces, [int(cuts.get(a, False)) for a in bounds[:-1]]


def _encode_prefilled(
    tokenizer: PreTrainedTokenizerBase, example: TrainExample
) -> tuple[list[int], list[int]]:
    """``input_ids`` and loss mask of a prefilled example (module doc)."""
    pieces, supervised = _prefilled_pieces(tokenizer, example)
    ids: list[int] = []
    mask: list[int] = []
    for tokens, loss in zip(_tokenize(tokenizer, pieces), supervised, strict=True):
        end = _span_end(tokens, 0, len(tokens), tokenizer.eos_token_id) if loss else 0
        ids.extend(tokens)
        mask.extend([1] * end + [0] * (len(tokens) - end))
    return ids, mask


def encode_examples(
    tokenizer: PreTrainedTokenizerBase,
    examples: list[TrainExample],
    max_length: int,
    truncation: Truncation = Truncation.right,
) -> list[EncodedExample]:
    """Tokenise ``examples`` (one batched tokenizer call) with their assistant loss masks.

    Sequences longer than ``max_length`` are cut (a warning counts them): on the right by
    default, keeping the first tokens; ``truncation=left`` keeps the last ones, so the final
    answer and its loss stay (the DRIFT authors' ``--truncation_side left``).
    """
    keep = (
        slice(-max_length, None) if Truncation(truncation) == Truncation.left else slice(max_length)
    )
    plain = [e for e in examples if not e.prefill]
    texts = [_renders(tokenizer, example) for example in plain]
    flat = _tokenize(tokenizer, [text for group in texts for text in group]) if plain else []
    encoded: dict[int, tuple[list[int], list[int]]] = {}
    offset = 0
    for example, group in zip(plain, texts, strict=True):
        ids = flat[offset : offset + len(group)]
        offset += len(group)
        encoded[id(example)] = (ids[0], _mask(example, ids, tokenizer.eos_token_id))
    out: list[EncodedExample] = []
    truncated = 0
    for example in examples:
        if example.prefill:
            input_ids, mask = _encode_prefilled(tokenizer, example)
        else:
            input_ids, mask = encoded[id(example)]
        truncated += len(input_ids) > max_length
        out.append(EncodedExample(example.id, input_ids[keep], mask[keep], example.weight))
    if truncated:
        log.warning("%d of %d examples were cut to max_length=%d", truncated, len(out), max_length)
    return out
