"""Verifiers: does a predicted answer match the ground truth?"""

from __future__ import annotations

import threading
from collections.abc import Callable

from drift.enums import VerifierName
from drift.plugins import as_function, choice_or_object
from drift.reward.extract import normalize_answer

Verifier = Callable[[str | None, str], bool]
"""``verifier(prediction, ground_truth) -> correct``; a None prediction is never correct."""

MAX_MATH_CHARS = 256
"""Longer answers are not parsed: sympy can run for minutes on large expressions."""
MATH_TIMEOUT_S = 1
"""Per parse/verify call, enforced by math-verify's ``signal.alarm`` on the main thread only."""


def exact_match(prediction: str | None, target: str) -> bool:
    """Equal after lower-casing and collapsing whitespace."""
    return prediction is not None and normalize_answer(prediction) == normalize_answer(target)


def _as_latex(answer: str) -> str:
    """Wrap a bare answer in ``$...$`` so math-verify's LaTeX extractor sees it."""
    return answer if "$" in answer or "\\boxed" in answer else f"${answer}$"


def math_verify_match(prediction: str | None, target: str) -> bool:
    """Mathematical equivalence via math-verify (``\\frac{1}{2}`` == ``0.5``).

    math-verify's timeout uses ``signal.alarm``, which only works on the main thread, and raises
    a BaseException subclass: elsewhere its timeout is disabled and the work is bounded by
    :data:`MAX_MATH_CHARS`. Every error (parse failures, timeouts) counts as "not correct".
    """
    if prediction is None:
        return False
    if exact_match(prediction, target):
        return True
    if len(prediction) > MAX_MATH_CHARS or len(target) > MAX_MATH_CHARS:
        return False
    from math_verify import parse, verify
    from math_verify.errors import TimeoutException

    on_main = threading.current_thread() is threading.main_thread()
    limit = MATH_TIMEOUT_S if on_main else None
    try:
        gold = parse(_as_latex(target), parsing_timeout=limit)
        pred = parse(_as_latex(prediction), parsing_timeout=limit)
        return bool(gold and pred and verify(gold, pred, timeout_seconds=limit))
    except (Exception, TimeoutException):
        return False


BUILT_IN: dict[VerifierName, Verifier] = {
    VerifierName.exact: exact_match,
    VerifierName.math_verify: math_verify_match,
}
KEY = "reward.verifier"


def build_verifier(name: VerifierName | str) -> Verifier:
    """The verifier ``reward.verifier`` names: a built-in, or the user's at a dotted path (a
    :data:`Verifier`, or a class whose instance made without arguments is one); a
    :class:`~drift.errors.ConfigError` naming the key and the path for anything else."""
    obj = choice_or_object(KEY, name, VerifierName)
    if obj is None:
        return BUILT_IN[VerifierName(name)]
    return as_function(KEY, name, obj, ("prediction", "target"), "a verifier")
