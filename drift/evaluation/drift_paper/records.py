"""The question and the ground truth of one benchmark row, read as the DRIFT authors' script
reads the Hugging Face datasets (their ``src/benchmark.py``, written here from its rules).

Each reader takes a row (a dict: one line of JSONL, one record of JSON/parquet/CSV) and returns
``(question, gold)``; the suite skips a row whose question is empty (and a GPQA row without a
gold letter), as the reference does. Options are listed under the question as ``A. text``, one
per line.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from typing import Any

from drift.evaluation.drift_paper.answers import CHOICE_LETTER

Row = dict[str, Any]
Reader = Callable[[Row], tuple[str, str]]

_BOXED = re.compile(r"\\(boxed|fbox)\s*\{", re.DOTALL)
_NO_PICTURE = (None, "", "None")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{…}`` or ``\\fbox{…}`` (braces balanced, space allowed
    before the brace); None when there is none or its braces do not close."""
    matches = list(_BOXED.finditer(text or ""))
    if not matches:
        return None
    start = matches[-1].end() - 1
    depth = 0
    for pos in range(start, len(text)):
        depth += (text[pos] == "{") - (text[pos] == "}")
        if depth == 0:
            return text[start + 1 : pos]
    return None


def after_hashes(text: Any) -> str:
    """``text`` stripped, or what follows its last ``####`` (GSM8K-style answers)."""
    text = str(text).strip() if text is not None else ""
    return text.split("####")[-1].strip() if "####" in text else text


def math_gold(row: Row) -> str:
    """A MATH row's answer: its ``answer`` field (the ``\\boxed`` content when boxed), else the
    last ``\\boxed`` of its ``solution``, else what follows its last ``####``, else its last
    non-empty line."""
    if row.get("answer"):
        parsed = after_hashes(row["answer"])
        if parsed:
            boxed = last_boxed(parsed)
            return boxed.strip() if boxed else parsed
    solution = str(row.get("solution") or "")
    boxed = last_boxed(solution)
    if boxed:
        return boxed.strip()
    hashes = re.findall(r"####\s*(.+)", solution)
    if hashes:
        return hashes[-1].strip()
    lines = [line.strip() for line in solution.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def read_math(row: Row) -> tuple[str, str]:
    """MATH-500 and Hendrycks MATH: ``problem`` and :func:`math_gold`."""
    return str(row.get("problem", "")).strip(), math_gold(row)


def read_theoremqa(row: Row) -> tuple[str, str]:
    """TheoremQA: ``Question`` (prefixed ``<image>`` when the row has a ``Picture``) and
    ``Answer`` (a list's first non-empty item; a dict's ``answer``/``value``/``text``)."""
    question = str(row.get("Question", row.get("question", ""))).strip()
    if row.get("Picture", row.get("picture")) not in _NO_PICTURE:
        question = f"<image>\n{question}" if question else "<image>"
    answer = row.get("Answer", row.get("answer", ""))
    if isinstance(answer, list | tuple):
        gold = next((str(a).strip() for a in answer if str(a).strip()), "")
    elif isinstance(answer, dict):
        values = (str(answer[k]).strip() for k in ("answer", "value", "text") if k in answer)
        gold = next((v for v in values if v), str(answer).strip())
    else:
        gold = after_hashes(answer) or str(answer).strip()
    return question, gold


def with_options(question: str, options: list[str]) -> str:
    """The question, then one ``A. option`` line per option."""
    lines = [question] if question else []
    lines += [f"{chr(65 + i)}. {option}" for i, option in enumerate(options)]
    return "\n".join(lines).strip()


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [str(value)]


def letter_gold(answer: Any, last_index: int) -> str:
    """A multiple-choice answer as a letter: a string's first standalone letter A-J, else an
    index 0..``last_index`` (an int or a numeric string); "" when neither."""
    if answer is None:
        return ""
    if isinstance(answer, str):
        match = CHOICE_LETTER.search(answer.strip().upper())
        if match:
            return match.group(1)
    try:
        index = int(answer)
    except (TypeError, ValueError):
        return ""
    return chr(65 + index) if 0 <= index <= last_index else ""


def read_mmlu(row: Row) -> tuple[str, str]:
    """MMLU-Redux: ``question`` with its ``choices``; ``answer`` (a letter, or index 0-3)."""
    question = with_options(str(row.get("question", "")).strip(), _as_list(row.get("choices")))
    return question, letter_gold(row.get("answer", row.get("answer_index")), 3)


def read_mmlu_pro(row: Row) -> tuple[str, str]:
    """MMLU-Pro: ``question`` with its ``options``; ``answer`` (a letter, or index 0-9)."""
    options = _as_list(row.get("options", row.get("choices")))
    question = with_options(str(row.get("question", "")).strip(), options)
    return question, letter_gold(row.get("answer", row.get("answer_index")), 9)


def _gpqa_options(row: Row) -> tuple[list[str], int | None]:
    """GPQA's options and the right one's index, before shuffling: ``choices``/``options`` with
    ``answer``, or ``Correct Answer`` first and then ``Incorrect Answer 1..3``."""
    choices = row.get("choices", row.get("options"))
    correct = row.get("Correct Answer", row.get("correct_answer"))
    if isinstance(choices, dict):
        choices = choices.get("text") or choices.get("choices") or choices.get("options") or choices
    if choices is None:
        if correct is None:
            return [], None
        wrong = _as_list(row.get("Incorrect Answers", row.get("incorrect_answers")))
        if not wrong:
            keys = [f"Incorrect Answer {i}" for i in (1, 2, 3)]
            keys += [f"incorrect_answer_{i}" for i in (1, 2, 3)]
            wrong = [row[k] for k in keys if row.get(k)]
        return [str(correct)] + [str(w) for w in wrong], 0
    options = [str(o) for o in _as_list(choices)]
    letter = letter_gold(row.get("answer", row.get("answer_index")), 25)
    index = ord(letter) - 65 if letter else None
    if index is None and correct is not None:
        index = next((i for i, o in enumerate(options) if o.strip() == str(correct).strip()), None)
    return options, index


def read_gpqa(row: Row) -> tuple[str, str]:
    """GPQA: ``Question`` with its options, empty ones dropped, shuffled by a generator seeded
    with the MD5 of the row's ``id``/``uid``/``question`` (else its question); the gold is the
    right option's letter ("" when none is marked)."""
    question = str(row.get("Question", row.get("question", ""))).strip()
    seed_key = str(row.get("id") or row.get("uid") or row.get("question") or question)
    options, right = _gpqa_options(row)
    kept = [(i, str(o).strip()) for i, o in enumerate(options) if str(o).strip()]
    if not kept:
        return question, ""
    order = list(range(len(kept)))
    random.Random(int(hashlib.md5(seed_key.encode("utf-8")).hexdigest()[:8], 16)).shuffle(order)
    shuffled = [kept[i] for i in order]
    text = with_options(question, [o for _, o in shuffled])
    position = next((p for p, (i, _) in enumerate(shuffled) if i == right), None)
    return text, chr(65 + position) if position is not None else ""
