"""Typed errors. Every error a user can trigger names the thing at fault and how to fix it."""

from __future__ import annotations

import re


class AigveError(Exception):
    """Base class of every error raised on purpose by aigve."""


class ConfigError(AigveError, ValueError):
    """A configuration field holds a bad value. The message names field, value and fix."""

    def __init__(self, field: str, value: object, fix: str):
        self.field, self.value, self.fix = field, value, fix
        super().__init__(f"invalid {field}={value!r}: {fix}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def console_safe(text: object) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``, ...), for one console or log line.

    File names may hold newlines, carriage returns or terminal escapes; printed raw, a name such as
    ``"a.mp4\\n10 scored, 0 failed"`` would forge a line of aigve's own output. The one function every
    message naming a user's file or id goes through.
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


class InputError(AigveError):
    """An input file (manifest, score file, human file) is malformed.

    ``path`` is the file and ``row`` the 1-based row or line when known.
    """

    def __init__(self, path: object, problem: str, row: int | None = None):
        self.path, self.problem, self.row = str(path), problem, row
        where = console_safe(self.path) + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {problem}")


class VideoDecodeError(AigveError):
    """A video cannot be opened or decoded (missing, empty, truncated, not a video, no frames)."""

    def __init__(self, path: object, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{console_safe(self.path)}: {reason}")


class ResponseParseError(AigveError):
    """Nothing could be salvaged from a model response. ``raw_text`` keeps the untouched text."""

    def __init__(self, message: str, raw_text: str):
        self.raw_text = raw_text
        preview = raw_text[:200].replace("\n", "\\n")
        super().__init__(f"{message} (raw text starts: {preview!r})")


class NotARealEvaluationWarning(UserWarning):
    """Results from a judge that is not one: the ``fake`` backend, a tiny test checkpoint, random weights
    (``aigve bench --random-init-arch``). Issued by the Python API once per evaluator; the command-line
    tools print their own NOT A REAL EVALUATION note instead. Silence it on purpose with
    ``warnings.simplefilter("ignore", NotARealEvaluationWarning)``."""


class ModelLoadError(AigveError):
    """Weights, tokenizer or processor could not be loaded."""


class UnknownNameError(AigveError, KeyError):
    """A registry lookup failed. The message lists close matches and every known name."""

    def __init__(self, kind: str, name: str, known: list[str]):
        import difflib

        self.kind, self.name, self.known = kind, name, sorted(known)
        close = difflib.get_close_matches(name, self.known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(self.known)}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


def json_error_text(exc: ValueError, *, line: bool = False) -> str:
    """``"Expecting value at column 13"`` (with ``line``: ``"... at line 2, column 13"``) from a
    ``json.JSONDecodeError``, for messages that already name the file and row."""
    msg = str(getattr(exc, "msg", exc)).removesuffix(" at")  # "Unterminated string starting at" + position
    where = f"line {exc.lineno}, column {exc.colno}" if line else f"column {getattr(exc, 'colno', '?')}"
    return f"{msg} at {where}"
