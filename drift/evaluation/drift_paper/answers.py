"""How the DRIFT authors' benchmark script judges an answer (their ``src/benchmark.py``,
written here from its rules; README, "The DRIFT paper's benchmarks").

Three rules, chosen per benchmark (:mod:`drift.evaluation.drift_paper.benchmarks`):

- **exact** (MATH-500, Hendrycks MATH): equal after lower-casing and deleting all whitespace.
  No LaTeX equivalence: ``\\frac12`` is not ``\\frac{1}{2}``, ``0.5`` is not ``\\frac{1}{2}``.
- **choice** (GPQA, MMLU-Redux, MMLU-Pro): the last standalone letter A-J of the answer, case
  ignored (``(C)``, ``C.``, ``the answer is c`` all read ``c``; so does ``A or C``), else the
  exact rule's text.
- **numeric** (TheoremQA): the first unsigned number of each side (``\\d+(\\.\\d+)?``) compared
  as floats, exactly; failing that, equal after lower-casing and deleting whitespace and ASCII
  punctuation. So ``-2`` matches ``2``, ``3.50`` matches ``3.5``, ``1,000`` matches ``1``, and
  ``True`` matches ``true.``.

An empty ground truth is never matched by the exact and choice rules; the numeric rule has no
such guard (as in the reference).
"""

from __future__ import annotations

import re
import string

from drift.reward.verifiers import Verifier

CHOICE_LETTER = re.compile(r"\b([A-J])\b", re.IGNORECASE)
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def squeeze(text: str) -> str:
    """Lower-cased, every whitespace character deleted (the reference's ``normalize_answer``)."""
    return re.sub(r"\s+", "", text.strip().lower())


def choice_letter(text: str) -> str:
    """The last standalone letter A-J of ``text``, lower-cased; else :func:`squeeze` of it."""
    found = CHOICE_LETTER.findall(text.strip())
    return found[-1].lower() if found else squeeze(text)


def first_number(text: str) -> float | None:
    """The first unsigned decimal number in ``text`` as a float, or None."""
    match = _NUMBER.search(text)
    return float(match.group(1)) if match else None


def bare_text(text: str) -> str:
    """Lower-cased, whitespace and ASCII punctuation deleted (the reference's
    ``normalize_text``)."""
    return re.sub(r"\s+", "", text.lower()).translate(_PUNCTUATION)


def exact_rule(prediction: str | None, target: str) -> bool:
    """The exact rule (module doc); a None prediction (a malformed turn) is wrong."""
    if prediction is None or not target:
        return False
    return squeeze(prediction) == squeeze(target)


def choice_rule(prediction: str | None, target: str) -> bool:
    """The choice rule (module doc)."""
    if prediction is None or not target:
        return False
    return choice_letter(prediction.strip()) == choice_letter(target)


def numeric_rule(prediction: str | None, target: str) -> bool:
    """The numeric rule (module doc)."""
    if prediction is None:
        return False
    prediction = prediction.strip()
    pred, gold = first_number(prediction), first_number(target)
    if pred is not None and gold is not None and pred == gold:
        return True
    return bare_text(prediction) == bare_text(target)


RULES: dict[str, Verifier] = {"exact": exact_rule, "choice": choice_rule, "numeric": numeric_rule}
"""The rules by name, as :class:`~drift.reward.verifiers.Verifier` s."""
