import pytest

from drift.reward.extract import extract_answer, is_well_formed, normalize_answer


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
