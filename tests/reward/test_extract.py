import pytest

from drift.enums import AnswerFormat
from drift.reward.extract import (
    extract_answer,
    extract_last_number,
    is_well_formed,
    normalize_answer,
    read_answer,
)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("<answer>3</answer>", "3"),
        ("<think>hmm</think><answer> 7 </answer>", "7"),
        ("<answer>1</answer> then <answer>2</answer>", "2"),
        ("<answer>a\nb</answer>", "a\nb"),
        ("no tags", None),
        ("<answer>4", None),
    ],
)
def test_extract_answer(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("<answer>3</answer>", True),
        ("  <answer>3</answer>\n", True),
        ("<think>x y</think>\n<answer>\\frac{1}{2}</answer>", True),
        ("<answer></answer>", False),
        ("<answer>  </answer>", False),
        ("<answer>3", False),
        ("so <answer>3</answer>", False),
        ("<answer>3</answer> extra", False),
        ("<answer>1</answer><answer>2</answer>", False),
        ("<think>x<answer>1</answer>", False),
        ("<answer><answer>1</answer>", False),
    ],
)
def test_is_well_formed(text: str, ok: bool) -> None:
    assert is_well_formed(text) is ok


def test_normalize_answer() -> None:
    assert normalize_answer("  Foo \n Bar ") == "foo bar"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("59 + 63 = 122.", "122"),
        ("43 - 75 = -32", "-32"),
        ("The answer is 1,234.", "1234"),
        ("It is 12.0", "12"),
        ("about 2.5 apples", "2.5"),
        ("−7", "-7"),
        ("-0", "0"),
        ("Incorrect.", None),
        ("", None),
    ],
)
def test_extract_last_number(text: str, answer: str | None) -> None:
    assert extract_last_number(text) == answer


def test_read_answer_follows_the_format() -> None:
    assert read_answer("59 + 63 = 122.", AnswerFormat.last_number) == ("122", True)
    assert read_answer("Incorrect. Please think again.", AnswerFormat.last_number) == (None, False)
    assert read_answer("59 + 63 = 122.", AnswerFormat.tags) == (None, False)
    assert read_answer("<answer>5</answer>", AnswerFormat.tags) == ("5", True)


def test_drift_reader_takes_the_first_action_of_the_first_block() -> None:
    from drift.reward.extract import read_drift_answer

    assert read_drift_answer("<think>a</think> <answer> 4 || 5 </answer>", think=True) == (
        "4",
        True,
    )
    assert read_drift_answer("<answer>4</answer>", think=True) == (None, False)  # no think
    assert read_drift_answer("<answer>4</answer>", think=False) == ("4", True)
    assert read_drift_answer("<answer>4 ; 5</answer>", think=False, sep=";") == ("4", True)
    assert read_drift_answer("<answer> </answer>", think=False) == (None, False)
