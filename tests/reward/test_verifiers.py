import threading

import pytest

from drift.config import VerifierName
from drift.reward.verifiers import build_verifier, exact_match, math_verify_match


def test_exact_match() -> None:
    assert exact_match(" ABC ", "abc")
    assert not exact_match("abd", "abc")
    assert not exact_match(None, "abc")


@pytest.mark.parametrize(
    ("pred", "target", "ok"),
    [
        ("\\frac{1}{2}", "0.5", True),
        ("0.5", "\\frac{1}{2}", True),
        ("\\sqrt{4}", "2", True),
        ("3", "4", False),
        ("garbage", "0.5", False),
        ("\\frac{", "0.5", False),
        ("", "1", False),
        (None, "1", False),
        ("x" * 1000, "1", False),
    ],
)
def test_math_verify_match(pred: str | None, target: str, ok: bool) -> None:
    assert math_verify_match(pred, target) is ok


def test_math_verify_off_main_thread() -> None:
    """signal.alarm is main-thread only: off it the match must still work and never raise."""
    results: list[object] = []

    def work() -> None:
        try:
            results.append(math_verify_match("\\frac{1}{2}", "0.5"))
            results.append(math_verify_match("}{", "0.5"))
        except BaseException as err:  # pragma: no cover - the failure being tested for
            results.append(err)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert results == [True, False]


def test_build_verifier() -> None:
    assert build_verifier(VerifierName.EXACT) is exact_match
    assert build_verifier("math_verify") is math_verify_match
    with pytest.raises(ValueError, match="unknown verifier"):
        build_verifier("nope")
