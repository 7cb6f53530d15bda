"""Dotted paths to user code: parsed, imported (from the working directory too) and checked,
every failure a ConfigError naming the key and the path."""

import sys

import pytest
import user_plugins

from drift.enums import VerifierName
from drift.errors import ConfigError
from drift.plugins import (
    as_function,
    choice_or_object,
    is_dotted_path,
    locate,
    require_signature,
    source_hash,
    split_path,
)


@pytest.mark.parametrize(
    ("value", "dotted"),
    [
        ("pkg.mod:fn", True),
        ("pkg.mod.Class", True),
        ("mod:Class.method", True),
        ("exact", False),
        ("math_verify", False),
        ("pkg.mod:", False),
        ("pkg..mod", False),
        ("../mod:fn", False),
        ("pkg.mod:fn()", False),
    ],
)
def test_is_dotted_path(value, dotted):
    assert is_dotted_path(value) is dotted


def test_split_path_takes_the_module_before_the_colon_or_the_last_dot():
    assert split_path("pkg.mod:Class.method") == ("pkg.mod", ["Class", "method"])
    assert split_path("pkg.mod.Class") == ("pkg.mod", ["Class"])


def test_locate_finds_the_object_in_both_spellings():
    assert locate("k", "user_plugins:second_answer_right") is user_plugins.second_answer_right
    assert locate("k", "user_plugins.SameLength") is user_plugins.SameLength
    assert locate("k", "user_plugins:SameLength.__call__") is user_plugins.SameLength.__call__


def test_a_missing_module_is_named_with_the_key_and_the_path():
    with pytest.raises(ConfigError) as err:
        locate("reward.verifier", "no_such_pkg.verifiers:check")
    message = str(err.value)
    assert message.startswith("reward.verifier=no_such_pkg.verifiers:check: ")
    assert "cannot import module 'no_such_pkg.verifiers'" in message
    assert "No module named 'no_such_pkg'" in message


def test_a_missing_attribute_is_named_with_its_owner():
    with pytest.raises(ConfigError, match=r"^k=user_plugins:SameLength\.nope: 'user_plugins"):
        locate("k", "user_plugins:SameLength.nope")
    with pytest.raises(ConfigError, match="'user_plugins' has no attribute 'missing'"):
        locate("k", "user_plugins.missing")


def test_an_error_inside_the_users_module_is_a_config_error(tmp_path, monkeypatch):
    (tmp_path / "broken_plugin_mod.py").write_text("raise RuntimeError('half written')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        ConfigError, match=r"cannot import module 'broken_plugin_mod'.*half written"
    ):
        locate("k", "broken_plugin_mod:fn")


def test_a_module_in_the_working_directory_is_found(tmp_path, monkeypatch):
    (tmp_path / "cwd_plugin_mod.py").write_text("def fn(prediction, target):\n    return True\n")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    monkeypatch.chdir(tmp_path)
    assert locate("k", "cwd_plugin_mod:fn").__name__ == "fn"
    assert sys.path[-1] == str(tmp_path)  # after the installed packages


def test_choice_or_object():
    assert choice_or_object("reward.verifier", "exact", VerifierName) is None
    assert choice_or_object("reward.verifier", VerifierName.math_verify, VerifierName) is None
    obj = choice_or_object("reward.verifier", "user_plugins:one_argument", VerifierName)
    assert obj is user_plugins.one_argument
    with pytest.raises(ConfigError) as err:
        choice_or_object("reward.verifier", "exakt", VerifierName)
    assert str(err.value) == (
        "reward.verifier must be one of exact, math_verify or a dotted path to your own "
        "(pkg.mod:name or pkg.mod.name), got 'exakt'"
    )


def test_require_signature_binds_the_contracts_arguments():
    require_signature("k", "p", user_plugins.second_answer_right, ("a", "b"), "a verifier")
    require_signature("k", "p", len, ("a",), "f")  # builtins with a signature are checked too
    with pytest.raises(ConfigError, match=r"^k=p: a verifier must take \(a, b\), but its sig"):
        require_signature("k", "p", user_plugins.one_argument, ("a", "b"), "a verifier")
    with pytest.raises(ConfigError, match=r"^k=p: a verifier must be callable, got int"):
        require_signature("k", "p", user_plugins.NOT_CALLABLE, ("a", "b"), "a verifier")


def test_as_function_makes_a_class_without_arguments():
    verifier = as_function("k", "p", user_plugins.SameLength, ("a", "b"), "a verifier")
    assert isinstance(verifier, user_plugins.SameLength)
    with pytest.raises(ConfigError, match=r"a verifier class \(made without arguments\) must"):
        as_function("k", "p", user_plugins.NeedsArguments, ("a", "b"), "a verifier")


def test_the_source_hash_follows_the_plugins_module_file(tmp_path, monkeypatch):
    module = tmp_path / "hashed_plugin.py"
    module.write_text("def same(prediction, target):\n    return prediction == target\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "hashed_plugin", raising=False)
    assert source_hash(VerifierName.exact.value) is None  # a built-in has no source of the user's
    first = source_hash("hashed_plugin:same")
    assert first == source_hash("hashed_plugin.same") and len(first) == 16
    module.write_text(module.read_text() + "# edited\n")
    assert source_hash("hashed_plugin:same") != first
    monkeypatch.delitem(sys.modules, "hashed_plugin")
