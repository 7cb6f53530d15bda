"""Pull the final answer out of a model turn and check the turn's format.

Two answer formats (``task.answer_format``): ``tags`` reads the last ``<answer>…</answer>``
block (the DRIFT papers' format); ``last_number`` reads the last number of free text, as a
chat model writes it ("59 + 63 = 122." -> ``122``), for tasks whose prompt asks for a number.
Under the DRIFT authors' prompt formats (``prompt_format=drift_full|drift_simple``) a turn is
read by their rule instead, :func:`read_drift_answer`.
"""

from __future__ import annotations

import re

from drift.enums import AnswerFormat

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_NO_TAG = r"(?:(?!</?(?:think|answer)>).)*"
_WELL_FORMED = re.compile(
    rf"(?:<think>{_NO_TAG}</think>\s*)?<answer>(?P<answer>{_NO_TAG})</answer>", re.DOTALL
)
_DRIFT_THINK = re.compile(r"<think>(.*?)</think>\s*<answer>(.*?)</answer>", re.DOTALL)
_DRIFT_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_DRIFT_SPECIAL = ("<think>", "</think>", "<answer>", "</answer>", "<|im_start|>", "<|im_end|>")
_NUMBER = re.compile(r"[-−]?\d+(?:,\d{3})*(?:\.\d+)?")


def extract_answer(text: str) -> str | None:
    """Content of the last ``<answer>...</answer>`` block, stripped; None if there is none."""
    found = _ANSWER.findall(text)
    return found[-1].strip() if found else None


def is_well_formed(text: str) -> bool:
    """True for ``[<think>...</think>] <answer>non-empty</answer>`` and nothing else around it."""
    match = _WELL_FORMED.fullmatch(text.strip())
    return match is not None and bool(match["answer"].strip())


def extract_last_number(text: str) -> str | None:
    """The last number in ``text``, canonical: no thousands commas, ASCII minus, ``122.0`` ->
    ``122``; None if ``text`` has no number."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    number = found[-1].replace(",", "").replace("−", "-")
    if "." in number and float(number).is_integer():
        number = str(int(float(number)))
    return "0" if number == "-0" else number


def read_answer(text: str, fmt: AnswerFormat) -> tuple[str | None, bool]:
    """(answer or None, well formed) of one assistant turn under answer format ``fmt``.

    ``last_number`` calls a turn well formed when it holds a number: a reply that only echoes
    the feedback ("Incorrect.") is malformed and carries the format penalty.
    """
    if fmt == AnswerFormat.last_number:
        answer = extract_last_number(text)
        return answer, answer is not None
    return extract_answer(text), is_well_formed(text)


def read_drift_answer(text: str, think: bool, sep: str = "||") -> tuple[str | None, bool]:
    """(answer or None, well formed) of a reply under the DRIFT authors' rule.

    ``text`` is the whole assistant turn, prefill included. The first ``<think>…</think>
    <answer>…</answer>`` (``think``; else the first ``<answer>…</answer>``) is searched for; the
    answer text, cleared of the tags and ChatML markers, is split on ``sep`` and the first
    non-empty part is the answer (one action per turn). No such block, or no non-empty part,
    is malformed: no answer, and the format penalty.
    """
    match = (_DRIFT_THINK if think else _DRIFT_ANSWER).search(text)
    if match is None:
        return None, False
    content = match.group(match.lastindex or 1)
    for token in _DRIFT_SPECIAL:
        content = content.replace(token, "")
    actions = [part.strip() for part in content.split(sep) if part.strip()]
    if not actions:
        return None, False
    return actions[0], True


def normalize_answer(answer: str) -> str:
    """Lower-case and collapse whitespace: the identity used for exact match and repeats."""
    return " ".join(answer.lower().split())
