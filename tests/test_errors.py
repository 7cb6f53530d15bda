"""Config checks that name the key: the one parser of enum choices."""

from enum import Enum

import pytest

from drift.errors import ConfigError, require_choice


class Colour(str, Enum):
    red = "red"
    green = "green"


def test_require_choice_takes_members_and_values():
    assert require_choice("paint.colour", Colour, "green") is Colour.green
    assert require_choice("paint.colour", Colour, Colour.red) is Colour.red


def test_require_choice_names_the_key_and_every_choice_once():
    with pytest.raises(ConfigError, match=r"^paint\.colour must be one of red, green, got 'blue'$"):
        require_choice("paint.colour", Colour, "blue")
