"""Pull the final answer out of a model turn and check the turn's format."""

from __future__ import annotations

import re

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_NO_TAG = r"(?:(?!</?(?:think|answer)>).)*"
_WELL_FORMED = re.compile(
    rf"(?:<think>{_NO_TAG}</think>\s*)?<answer>(?P<answer>{_NO_TAG})</answer>", re.DOTALL
)


def extract_answer(text: str) -> str | None:
    """Content of the last ``<answer>...</answer>`` block, stripped; None if there is none."""
    found = _ANSWER.findall(text)
    return found[-1].strip() if found else None


def is_well_formed(text: str) -> bool:
    """True for ``[<think>...</think>] <answer>non-empty</answer>`` and nothing else around it."""
    match = _WELL_FORMED.fullmatch(text.strip())
    return match is not None and bool(match["answer"].strip())


def normalize_answer(answer: str) -> str:
    """Lower-case and collapse whitespace: the identity used for exact match and repeats."""
    return " ".join(answer.lower().split())
