"""Lenient JSON reading for model answers: repairs what language models get wrong, and reports truncation.

:func:`read_json` reads one value starting at a given index. Strict ``json`` (``raw_decode``) is tried first; if
it fails, a small recursive-descent reader repairs Python quoting (``'...'``, ``True/False/None``), smart
quotes, trailing or missing commas, missing colons, unquoted keys and values, ``//``/``/* */``/``#`` comments,
raw newlines and stray (unescaped) inner quotes, and returns what it has when the text ends early.

Why hand-written rather than a JSON-repair library: none is in the dependency set, and the caller must know
*which* values were cut off by truncation (a comment cut mid-sentence, a key with no value yet), which generic
repairers hide by closing the open string and brackets. Here a string cut by the end of the text comes back
as a :class:`PartialString`, a key whose value never started is dropped, and ``Reading.truncated`` is set.
A number that ends exactly at the end of the text comes back as a :class:`PartialNumber` (``{"score": 4``
might have gone on as ``4.5``), never as the number, with ``truncated`` set.

Objects come back as :class:`JSONObject` (a list of ``(key, value)`` pairs) so duplicate keys survive. The text
is never evaluated.

Flags (``Reading.flags``, empty when strict JSON parsed): ``python_quotes``, ``smart_quotes``,
``trailing_comma``, ``missing_comma``, ``missing_colon``, ``unquoted_keys``, ``unquoted_values``, ``comments``,
``inner_quotes``, ``mismatched_bracket``, ``garbage``, ``truncated``; ``repaired_json`` when strict JSON failed
but no specific repair was needed (e.g. a leading ``+`` or a ``NaN``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 40
"""Deepest nesting the tolerant reader follows before raising :class:`NestingTooDeep`."""


class JSONObject(list):
    """A parsed JSON object as its ``(key, value)`` pairs in written order, so duplicate keys survive."""


class PartialString(str):
    """A string value (or key) cut off by the end of the text; its content is what was written before the end."""


@dataclass(frozen=True)
class PartialNumber:
    """A number whose last digit is the last character of the text (``{"score": 4`` could have been ``4.5``
    or ``45``): not a number, so no caller can take it for a score by accident. ``text``: the digits read."""

    text: str


class NestingTooDeep(ValueError):
    """Nesting deeper than :data:`MAX_DEPTH` (or Python's recursion limit); ``end`` is where reading stopped."""

    def __init__(self, end: int):
        super().__init__(f"JSON nesting deeper than {MAX_DEPTH} levels; stopped at index {end}")
        self.end = end


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""``Reading.value`` when no value starts at the index (end of text, or a ``,:}]`` there)."""


@dataclass
class Reading:
    """One value read by :func:`read_json`.

    ``value``: dicts as :class:`JSONObject`, arrays as lists, cut strings as :class:`PartialString`, or
    :data:`MISSING`. ``end``: index in the text just after the value (> start). ``flags``: repairs, see the
    module docstring. ``truncated``: the text ended before the value was closed.
    """

    value: Any
    end: int
    flags: list[str] = field(default_factory=list)
    truncated: bool = False


_DECODER = json.JSONDecoder(object_pairs_hook=JSONObject, strict=False)  # strict=False: raw newlines in strings


def read_json(text: str, start: int = 0) -> Reading:
    """Read the JSON-like value that begins at ``text[start]`` (whitespace and comments before it are skipped
    by the tolerant reader; strict ``json`` needs it exactly at ``start``).

    Never raises on malformed text; raises :class:`NestingTooDeep` for pathological nesting, whose ``end``
    lets a caller scanning for blocks skip the whole run instead of restarting inside it (quadratic).
    """
    try:
        value, end = _DECODER.raw_decode(text, start)
        return Reading(value, end)
    except (ValueError, RecursionError):
        pass
    reader = _Reader(text, start)
    try:
        value = reader.value(0)
    except (_TooDeep, RecursionError):
        raise NestingTooDeep(max(reader.i, start + 1)) from None
    flags = reader.flags + ["truncated"] * reader.truncated
    return Reading(value, max(reader.i, start + 1), flags or ["repaired_json"], reader.truncated)


# ----------------------------------------------------------------------------------------------- reader


class _TooDeep(Exception):
    pass


_CLOSERS = {'"': '"\u201d', "'": "'\u2019", "\u201c": "\u201d\u201c\"", "\u201d": "\u201d\u201c\"",
            "\u2018": "\u2019\u2018'", "\u2019": "\u2019\u2018'"}
_STOP = {q: re.compile("[\\\\" + re.escape(c) + "]") for q, c in _CLOSERS.items()}
_WS = re.compile(r"[ \t\r\n\ufeff\u00a0]*")
_HEX = re.compile(r"[0-9a-fA-F]{4}")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_BARE_VALUE = re.compile(r"[^,}\]\n]*")
_BARE_KEY = re.compile(r"[^:,{}\[\]\n\"'\u201c\u201d\u2018\u2019]+")
_KEYLIKE = re.compile(r"[\"'\u201c\u201d\u2018\u2019}\]{\[\d+\-/#]|[A-Za-z_][\w \-]{0,40}:")
_QUOTED_KEY = re.compile(r"[\"'\u201c\u201d\u2018\u2019][\w \-]{1,40}[\"'\u201c\u201d\u2018\u2019]\s*:")
_LITERALS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None,
             "NaN": math.nan, "Infinity": math.inf}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"', "'": "'",
            "\n": "\n"}


class _Reader:
    """Tolerant recursive-descent JSON reader. Every step consumes input or returns, so it cannot hang."""

    def __init__(self, text: str, start: int = 0):
        self.s, self.n, self.i = text, len(text), start
        self.flags: list[str] = []
        self.truncated = False

    def flag(self, name: str) -> None:
        if name not in self.flags:
            self.flags.append(name)

    def skip(self) -> None:
        s = self.s
        while True:
            self.i = _WS.match(s, self.i).end()
            if s.startswith("//", self.i) or s.startswith("#", self.i):
                end = s.find("\n", self.i)
                self.i = self.n if end < 0 else end
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                self.i = self.n if end < 0 else end + 2
            else:
                return
            self.flag("comments")

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _TooDeep
        self.skip()
        if self.i >= self.n:
            self.truncated = True
            return MISSING
        c = self.s[self.i]
        if c == "{":
            return self.obj(depth)
        if c == "[":
            return self.arr(depth)
        if c in _CLOSERS:
            return self.string()
        if c in ",:}]":
            return MISSING
        return self.bare()

    def obj(self, depth: int) -> JSONObject:
        self.i += 1
        pairs, s, need_sep = JSONObject(), self.s, False
        while True:
            self.skip()
            if self.i >= self.n:
                self.truncated = True
                return pairs
            c = s[self.i]
            if c in "}]":
                self.i += 1
                if c == "]":
                    self.flag("mismatched_bracket")
                return pairs
            if c == ",":
                self.i, need_sep = self.i + 1, False
                self.skip()
                if self.i < self.n and s[self.i] == "}":
                    self.flag("trailing_comma")
                continue
            if need_sep:
                self.flag("missing_comma")
            key = self.key()
            if key is None:
                self.flag("garbage")
                self.i += 1
                continue
            self.skip()
            if self.i >= self.n or isinstance(key, PartialString):
                self.truncated = True
                return pairs
            if s[self.i] in ":=":
                self.i += 1
            else:
                self.flag("missing_colon")
            val = self.value(depth + 1)
            if val is not MISSING:
                pairs.append((key, val))
            need_sep = True

    def key(self) -> str | None:
        c = self.s[self.i]
        if c in _CLOSERS:
            return self.string()
        m = _BARE_KEY.match(self.s, self.i)
        if m is None or not m.group().strip():
            return None
        self.i = m.end()
        self.flag("unquoted_keys")
        return m.group().strip()

    def arr(self, depth: int) -> list:
        self.i += 1
        items: list = []
        s = self.s
        while True:
            self.skip()
            if self.i >= self.n:
                self.truncated = True
                return items
            c = s[self.i]
            if c in "]}":
                self.i += 1
                if c == "}":
                    self.flag("mismatched_bracket")
                return items
            if c in ",:":
                self.i += 1
                self.skip()
                if c == "," and self.i < self.n and s[self.i] == "]":
                    self.flag("trailing_comma")
                continue
            val = self.value(depth + 1)
            if val is not MISSING:
                items.append(val)

    def string(self) -> str:
        s, q = self.s, self.s[self.i]
        if q == "'":
            self.flag("python_quotes")
        elif q != '"':
            self.flag("smart_quotes")
        stop, closers = _STOP[q], _CLOSERS[q]
        self.i += 1
        buf: list[str] = []
        while True:
            m = stop.search(s, self.i)
            if m is None:
                buf.append(s[self.i:])
                self.i, self.truncated = self.n, True
                return PartialString("".join(buf))
            j = m.start()
            buf.append(s[self.i:j])
            if s[j] == "\\":
                if j + 1 >= self.n:
                    self.i, self.truncated = self.n, True
                    return PartialString("".join(buf))
                self.i = self._escape(j, buf)
                if self.i < 0:
                    self.i, self.truncated = self.n, True
                    return PartialString("".join(buf))
                continue
            self.i = j + 1
            if s[j] in closers and self._closes(j + 1):
                return "".join(buf)
            buf.append(s[j])
            self.flag("inner_quotes")

    def _escape(self, j: int, buf: list[str]) -> int:
        """Decode the escape at ``j``; return the index after it, or -1 when the text ends inside it."""
        e = self.s[j + 1]
        if e in _ESCAPES:
            buf.append(_ESCAPES[e])
            return j + 2
        if e != "u":
            buf.append("\\" + e)  # unknown escape: keep it verbatim
            return j + 2
        hexa = self.s[j + 2:j + 6]
        if len(hexa) < 4 and j + 2 + len(hexa) >= self.n and _HEX.fullmatch(hexa + "0" * (4 - len(hexa))):
            return -1
        if not _HEX.fullmatch(hexa):  # int(x, 16) would also take signs, spaces and underscores
            buf.append("\\u")
            return j + 2
        code = int(hexa, 16)
        if 0xD800 <= code < 0xDC00 and self.s.startswith("\\u", j + 6) and _HEX.fullmatch(self.s[j + 8:j + 12]):
            low = int(self.s[j + 8:j + 12], 16)
            if 0xDC00 <= low < 0xE000:
                buf.append(chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)))
                return j + 12
        buf.append("\ufffd" if 0xD800 <= code < 0xE000 else chr(code))
        return j + 6

    def _closes(self, k: int) -> bool:
        """Whether a quote ending at ``k`` closes its string: what follows must look like JSON structure."""
        s, k0 = self.s, k
        k = _WS.match(s, k).end()
        if k >= self.n or s[k] in ":}]":
            return True
        if s[k] == ",":
            k = _WS.match(s, k + 1).end()
            return k >= self.n or _KEYLIKE.match(s, k) is not None
        if _QUOTED_KEY.match(s, k):  # a missing comma before the next key
            return True
        return "\n" in s[k0:k] and (s[k] in _CLOSERS or s.startswith(("//", "#"), k))

    def bare(self) -> Any:
        s = self.s
        m = _NUMBER.match(s, self.i)
        if m:
            after = _WS.match(s, m.end()).end()
            if after >= self.n or s[after] in ",}]\n" or s.startswith(("//", "/*", "#"), after):
                self.i = m.end()
                text = m.group()
                if m.end() >= self.n:  # more digits may have followed: see PartialNumber
                    self.truncated = True
                    return PartialNumber(text)
                return float(text) if any(c in text for c in ".eE") else int(text)
        m = _BARE_VALUE.match(s, self.i)
        word = m.group().strip()
        self.i = max(m.end(), self.i + 1)
        if word in _LITERALS:
            if word[0].isupper() and word in ("True", "False", "None"):
                self.flag("python_quotes")
            return _LITERALS[word]
        self.flag("unquoted_values")
        if self.i >= self.n:
            self.truncated = True
            return PartialString(word)
        return word
