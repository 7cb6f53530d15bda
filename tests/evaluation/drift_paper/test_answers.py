"""The DRIFT authors' answer rules (their src/benchmark.py), case by case."""

import pytest

from drift.evaluation.drift_paper.answers import (
    RULES,
    bare_text,
    choice_letter,
    choice_rule,
    exact_rule,
    first_number,
    numeric_rule,
    squeeze,
)


def test_normalisers() -> None:
    assert squeeze(" X^2 +\t2x\n") == "x^2+2x"
    assert choice_letter("(B) because A is wrong") == "a"  # the last standalone letter
    assert choice_letter("answer: c.") == "c"
    assert choice_letter("photon") == "photon"  # no letter: the squeezed text
    assert choice_letter("K") == "k"  # K is past J: no letter, the text
    assert first_number("x = -3.50 m") == 3.5  # unsigned
    assert first_number("none") is None
    assert bare_text("True.") == "true"


@pytest.mark.parametrize(
    ("prediction", "target", "correct"),
    [
        ("\\frac{14}{3}", "\\frac{14}{3}", True),
        ("\\frac{ 14 }{3}", "\\frac{14}{3}", True),  # whitespace deleted
        ("X^2 + 2x + 1", "x^2+2x+1", True),  # case ignored
        ("0.5", "\\frac{1}{2}", False),  # no equivalence
        ("\\boxed{70}", "70", False),  # no unboxing of the prediction
        ("2", "", False),  # an empty ground truth is never matched
        (None, "2", False),  # a malformed turn
    ],
)
def test_exact_rule(prediction: str | None, target: str, correct: bool) -> None:
    assert exact_rule(prediction, target) is correct


@pytest.mark.parametrize(
    ("prediction", "target", "correct"),
    [
        ("C", "C", True),
        ("(c)", "C", True),
        ("The answer is C.", "C", True),
        ("A or C", "C", True),  # the last letter counts
        ("C, not A", "C", False),
        ("I think B", "B", True),  # "I" is a letter too, but B comes last
        ("I", "B", False),
        ("photon", "C", False),
        ("B", "", False),
    ],
)
def test_choice_rule(prediction: str, target: str, correct: bool) -> None:
    assert choice_rule(prediction, target) is correct


@pytest.mark.parametrize(
    ("prediction", "target", "correct"),
    [
        ("3.50", "3.5", True),  # compared as floats, exactly
        ("x = 3.5 m", "3.5", True),  # the first number of each side
        ("-2", "2", True),  # the sign is not read
        ("1,000", "1", True),  # nor thousands separators
        ("3.5", "[3.5, 1]", True),
        ("7/2", "3.5", False),  # no fractions
        ("1e-3", "0.001", False),  # nor exponents
        ("true.", "True", True),  # no number: text without case, space, punctuation
        ("abc", "", False),
        ("...", "", True),  # the reference has no empty-truth guard here
        (None, "3", False),
    ],
)
def test_numeric_rule(prediction: str | None, target: str, correct: bool) -> None:
    assert numeric_rule(prediction, target) is correct


def test_rules_by_name() -> None:
    assert {"exact": exact_rule, "choice": choice_rule, "numeric": numeric_rule} == RULES
