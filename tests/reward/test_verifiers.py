import threading

import pytest
import user_plugins

from drift.config import VerifierName
from drift.errors import ConfigError
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
    assert build_verifier(VerifierName.exact) is exact_match
    assert build_verifier("math_verify") is math_verify_match
    with pytest.raises(ConfigError, match=r"reward\.verifier must be one of exact, math_verify or"):
        build_verifier("nope")


def test_build_verifier_takes_a_function_or_class_of_the_users() -> None:
    verifier = build_verifier("user_plugins:second_answer_right")
    assert verifier is user_plugins.second_answer_right
    same_length = build_verifier("user_plugins.SameLength")
    assert same_length("12", "34") and not same_length("1", "34")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("user_plugins:one_argument", "a verifier must take (prediction, target)"),
        ("user_plugins.NeedsArguments", "a verifier class (made without arguments) must take ()"),
        ("user_plugins:NOT_CALLABLE", "a verifier must be callable, got int"),
        ("user_plugins:nope", "'user_plugins' has no attribute 'nope'"),
        ("no_such_module:check", "cannot import module 'no_such_module'"),
    ],
)
def test_a_user_verifier_that_breaks_the_contract_is_a_config_error(path, message) -> None:
    with pytest.raises(ConfigError) as err:
        build_verifier(path)
    assert str(err.value).startswith(f"reward.verifier={path}: {message}")
