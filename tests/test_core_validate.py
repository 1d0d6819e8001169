"""aigve.core.validate: every numeric check refuses bool, NaN, inf and absurd sizes, naming setting and range."""

import math

import pytest

from aigve.core import validate as v
from aigve.errors import ConfigError

BAD_NUMBERS = [float("nan"), float("inf"), -float("inf"), True, "3", None, [1]]


@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_finite_refuses_non_finite_and_non_numbers(bad):
    with pytest.raises(ConfigError, match="fps"):
        v.positive("fps", bad)


def test_ranges_and_messages():
    assert v.finite("t", 3, low=0, high=5) == 3.0
    with pytest.raises(ConfigError, match=r"in \[0, 5\]"):
        v.finite("t", 6, low=0, high=5)
    with pytest.raises(ConfigError, match=r"> 0"):
        v.positive("lr", 0)
    assert v.non_negative("seed", 0) == 0
    with pytest.raises(ConfigError, match=r"in \[0, 1\)"):
        v.fraction("jitter", 1.0, open_high=True)


def test_integers():
    assert v.positive_int("n", 4.0) == 4
    for bad in (0, -1, 2.5, 1e308, 10**13, True, "4", math.nan):
        with pytest.raises(ConfigError, match="n="):
            v.positive_int("n", bad)
    with pytest.raises(ConfigError, match=r"in \[1, 8\]"):
        v.integer("k", 9, low=1, high=8)


def test_choice_boolean_text_path(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'uniform'"):
        v.choice("strategy", "unifrm", ["uniform", "motion"])
    assert v.boolean("x", "yes") is True and v.boolean("x", 0) is False
    with pytest.raises(ConfigError):
        v.boolean("x", "maybe")
    with pytest.raises(ConfigError):
        v.text("prompt", "  ")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="must be a folder"):
        v.path("out", tmp_path / "f", kind="dir")
    assert v.optional(v.positive, "x", None) is None
