"""One validation module used by every config dataclass and command (finite, positive, integer, fraction,
choice, path). Each check returns the value (converted where that is safe) or raises :class:`ConfigError`
naming the *setting* (never a CLI flag: only the CLI maps settings to flags), the value and the allowed range.

Why one module: four hand-written copies drifted (only one refused inf/NaN, so ``fps=inf`` crashed a run with
an OverflowError). Every numeric check here refuses bool, NaN and ±inf before comparing.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aigve.errors import ConfigError

#: The largest count any size-like setting may take (frames, pixels, tokens, batch sizes, ...): beyond it a
#: value is a typo (1e308), not a plan, and would overflow or exhaust memory far from where it was given.
ABSURD = 10**12


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def finite(name: str, value: Any, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in ``[low, high]`` (open ends with ``low_open``/``high_open``); returns float."""
    if not _is_real(value) or not math.isfinite(float(value)):
        raise ConfigError(name, value, f"must be a finite number{_range_text(low, high, low_open, high_open)}")
    v = float(value)
    if low is not None and (v < low or (low_open and v == low)):
        raise ConfigError(name, value, f"must be{_range_text(low, high, low_open, high_open) or ' larger'}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ConfigError(name, value, f"must be{_range_text(low, high, low_open, high_open) or ' smaller'}")
    return v


def positive(name: str, value: Any, *, high: float | None = None) -> float:
    """A finite number > 0 (and <= ``high`` when given)."""
    return finite(name, value, low=0.0, low_open=True, high=high)


def non_negative(name: str, value: Any, *, high: float | None = None) -> float:
    """A finite number >= 0 (and <= ``high`` when given)."""
    return finite(name, value, low=0.0, high=high)


def fraction(name: str, value: Any, *, open_low: bool = False, open_high: bool = False) -> float:
    """A finite number in [0, 1] (ends open on request)."""
    return finite(name, value, low=0.0, high=1.0, low_open=open_low, high_open=open_high)


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = ABSURD) -> int:
    """An integer (an integral float such as 4.0 is accepted and converted) in ``[low, high]``."""
    given = value
    if _is_real(value) and not isinstance(value, numbers.Integral):
        f = float(value)
        if math.isfinite(f) and f.is_integer() and abs(f) <= 2**53:
            value = int(f)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ConfigError(name, given, f"must be an integer{_range_text(low, high, False, False)}")
    v = int(value)
    if low is not None and v < low:
        raise ConfigError(name, given, f"must be an integer{_range_text(low, high, False, False)}")
    if high is not None and v > high:
        raise ConfigError(name, given, f"must be an integer <= {high} (an absurd size is a typo, not a plan)"
                          if high == ABSURD else f"must be an integer in [{low}, {high}]")
    return v


def positive_int(name: str, value: Any, *, high: int | None = ABSURD) -> int:
    """An integer >= 1 (and <= ``high``)."""
    return integer(name, value, low=1, high=high)


def non_negative_int(name: str, value: Any, *, high: int | None = ABSURD) -> int:
    """An integer >= 0 (and <= ``high``)."""
    return integer(name, value, low=0, high=high)


def optional(check: Any, name: str, value: Any, **kwargs: Any) -> Any:
    """``None`` passes through; anything else goes through ``check(name, value, **kwargs)``."""
    return None if value is None else check(name, value, **kwargs)


def choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """One of ``choices``; the error lists them and the closest match."""
    options = list(choices)
    if value in options:
        return value
    import difflib

    close = difflib.get_close_matches(str(value), [str(c) for c in options], n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(name, value, f"{hint}choose one of: {', '.join(str(c) for c in options)}")


def boolean(name: str, value: Any) -> bool:
    """A bool, or one of the usual spellings (1/0, true/false, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(name, value, "must be true or false")


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def text(name: str, value: Any, *, allow_empty: bool = False, max_length: int = 1_000_000) -> str:
    """A string (non-empty unless ``allow_empty``) of at most ``max_length`` characters."""
    if not isinstance(value, str) or (not allow_empty and not value.strip()) or len(value) > max_length:
        need = "a string" if allow_empty else "a non-empty string"
        raise ConfigError(name, value if not isinstance(value, str) else value[:80],
                          f"must be {need} of at most {max_length} characters")
    return value


def path(name: str, value: Any, *, must_exist: bool = False, kind: str | None = None) -> Path:
    """A filesystem path; with ``must_exist`` it must exist, with ``kind`` ('file' or 'dir') be one."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ConfigError(name, value, "must be a path")
    p = Path(value).expanduser()
    if must_exist and not p.exists():
        raise ConfigError(name, str(value), "no such file or folder")
    if kind == "file" and p.exists() and not p.is_file():
        raise ConfigError(name, str(value), "must be a file, not a folder")
    if kind == "dir" and p.exists() and not p.is_dir():
        raise ConfigError(name, str(value), "must be a folder, not a file")
    return p


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if high == ABSURD:
        high = None
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {_num(low)}"
    if low is None:
        return f" {'<' if high_open else '<='} {_num(high)}"
    return f" in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)
