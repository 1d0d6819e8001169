"""Model text -> scores and comments. Model output is untrusted input: parsed, repaired, validated; never eval'd.

How :func:`parse_response` reads an answer, cheapest first:

1. ``json.loads`` of the whole text (the released model's answers normally pass here, with no flags).
2. Every ``{``/``[`` block, inside code fences first and then in the whole text: ``json`` ``raw_decode``, else a
   small tolerant parser (:class:`_Reader`) that repairs Python quoting (``'...'``, ``True/False/None``), smart
   quotes, trailing or missing commas, unquoted keys and values, ``//``/``/* */``/``#`` comments, raw newlines
   and stray (unescaped) inner quotes, and returns what it has when the text ends early (truncation).
   The block (or nested object) holding the most aspect scores wins; ties go to the last one, since an
   answer follows any example the model (or an echoed prompt) wrote before it.
3. As a last resort, line-oriented text such as ``Physics: 4 - the ball falls naturally`` (flag ``line_format``).

A hand-written reader rather than a JSON-repair library: none is in the dependency set, and we need to know
*which* values were cut by truncation, which generic repairers hide.

Flags (``ParsedResponse.flags``): repairs (``code_fence``, ``extra_text``, ``double_escaped``,
``python_quotes``, ``smart_quotes``, ``trailing_comma``, ``missing_comma``, ``missing_colon``, ``unquoted_keys``,
``unquoted_values``, ``comments``, ``inner_quotes``, ``mismatched_bracket``, ``garbage``, ``repaired_json``,
``line_format``, ``truncated``), then per aspect ``renamed:<raw>-><key>``, ``duplicate:<key>``,
``rounded:<key>``, ``rescaled:<key>``, ``clamped:<key>``, ``bad_score:<key>``, ``missing:<key>``.
The released spellings ``element_presentence``/``action_presentence`` are what the released model is trained
to write, so they are *not* flagged as renamed; any other non-canonical spelling is.

Scores: floats round half up (4.5 -> 5, 2.5 -> 3; flag ``rounded`` only when the value changed), ``"4/5"``
and ``"4 out of 5"`` read as 4, other denominators are rescaled to 0-5 (``"8/10"`` -> 4, flag ``rescaled``),
out-of-range values are clamped to [0, 5], anything non-numeric (text, null, booleans) gives None with
``bad_score``. Truncation: an aspect counts only if its score value was read completely; a comment cut by
the end of the text is dropped (None) rather than kept half-written.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

from aigve.aspects import ASPECT_KEYS, BY_KEY, SCORE_MAX, SCORE_MIN, canonical_key
from aigve.errors import ResponseParseError

log = logging.getLogger(__name__)


@dataclass
class ParsedResponse:
    """Scores and comments keyed by canonical aspect key (all nine keys always present).

    ``scores[k]`` is an int in [0, 5] or None when the aspect is missing or unusable (never invented).
    ``flags``: machine-readable notes on what was repaired, e.g. ``"code_fence"``, ``"python_quotes"``,
    ``"trailing_comma"``, ``"truncated"``, ``"renamed:element_presentence->element_presence"``,
    ``"clamped:physics"``, ``"rounded:dynamic"``, ``"missing:overall"``, ``"bad_score:overall"``.
    """

    scores: dict[str, int | None] = field(default_factory=lambda: {k: None for k in ASPECT_KEYS})
    comments: dict[str, str | None] = field(default_factory=lambda: {k: None for k in ASPECT_KEYS})
    flags: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        """True when anything had to be repaired or is missing."""
        return bool(self.flags)

    @property
    def missing(self) -> list[str]:
        return [k for k in ASPECT_KEYS if self.scores.get(k) is None]

    def to_dict(self) -> dict[str, Any]:
        return {"scores": dict(self.scores), "comments": dict(self.comments), "flags": list(self.flags)}


# ----------------------------------------------------------------------------------------------- scores

_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
# "4", "4.5", "4/5", "4 / 5", "4 out of 5", "score: 4", "4 (good)"; bounded, no nested quantifiers.
_SCORE_TEXT = re.compile(
    rf"\s{{0,20}}(?:(?:score|rating)\s{{0,5}}[:=]?\s{{0,5}})?({_NUM})(?![A-Za-z\d])"
    rf"(?:\s{{0,5}}(?:/|out\s{{1,5}}of)\s{{0,5}}({_NUM}))?",
    re.IGNORECASE,
)


def parse_score_value(value: object) -> tuple[int | None, list[str]]:
    """Turn one raw score value into an int in [0, 5], with bare flags naming any repair.

    Accepts ints, floats (rounded half up), and strings like ``"4"``, ``"4.0"``, ``"4/5"``, ``"4 out of 5"``,
    ``"8/10"`` (rescaled to 0-5), ``"four"``. Returns ``(score, flags)`` where flags are drawn from
    ``"rounded"``, ``"rescaled"``, ``"clamped"``, ``"bad_score"`` (score None). Pure; never raises.
    """
    flags: list[str] = []
    if isinstance(value, bool) or value is None:
        return None, ["bad_score"]
    if isinstance(value, int):
        number: float = value
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        m = _SCORE_TEXT.match(value[:200])
        word = value.strip().lower()
        if word in _WORDS:
            return _WORDS[word], []
        if m is None:
            return None, ["bad_score"]
        number = float(m.group(1))
        if m.group(2) is not None:
            denom = float(m.group(2))
            if denom <= 0:
                return None, ["bad_score"]
            if denom != SCORE_MAX:
                number, flags = number * SCORE_MAX / denom, ["rescaled"]
    else:
        return None, ["bad_score"]
    if not math.isfinite(number):
        return None, ["bad_score"]
    score = math.floor(number + 0.5)  # round half up: 2.5 -> 3 (Python's round() would give 2)
    if score != number and "rescaled" not in flags:
        flags.append("rounded")
    if not SCORE_MIN <= score <= SCORE_MAX:
        score = min(max(score, SCORE_MIN), SCORE_MAX)
        flags.append("clamped")
    return int(score), flags


# ----------------------------------------------------------------------------------------------- reader


class _Obj(list):
    """A parsed JSON object as its (key, value) pairs, so duplicate keys survive."""


class _Partial(str):
    """A string cut by the end of the text."""


class _TooDeep(Exception):
    pass


_NOVALUE = object()
_MAX_DEPTH = 40
_CLOSERS = {'"': '"\u201d', "'": "'\u2019", "\u201c": "\u201d\u201c\"", "\u201d": "\u201d\u201c\"",
            "\u2018": "\u2019\u2018'", "\u2019": "\u2019\u2018'"}
_STOP = {q: re.compile("[\\\\" + re.escape(c) + "]") for q, c in _CLOSERS.items()}
_WS = re.compile(r"[ \t\r\n\ufeff\u00a0]*")
_HEX = re.compile(r"[0-9a-fA-F]{4}")
_NUMBER = re.compile(rf"{_NUM}(?:[eE][+-]?\d+)?")
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

    def __init__(self, text: str):
        self.s, self.n, self.i = text, len(text), 0
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
        if depth > _MAX_DEPTH:
            raise _TooDeep
        self.skip()
        if self.i >= self.n:
            self.truncated = True
            return _NOVALUE
        c = self.s[self.i]
        if c == "{":
            return self.obj(depth)
        if c == "[":
            return self.arr(depth)
        if c in _CLOSERS:
            return self.string()
        if c in ",:}]":
            return _NOVALUE
        return self.bare()

    def obj(self, depth: int) -> _Obj:
        self.i += 1
        pairs, s, need_sep = _Obj(), self.s, False
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
            if self.i >= self.n or isinstance(key, _Partial):
                self.truncated = True
                return pairs
            if s[self.i] in ":=":
                self.i += 1
            else:
                self.flag("missing_colon")
            val = self.value(depth + 1)
            if val is not _NOVALUE:
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
            if val is not _NOVALUE:
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
                return _Partial("".join(buf))
            j = m.start()
            buf.append(s[self.i:j])
            if s[j] == "\\":
                if j + 1 >= self.n:
                    self.i, self.truncated = self.n, True
                    return _Partial("".join(buf))
                self.i = self._escape(j, buf)
                if self.i < 0:
                    self.i, self.truncated = self.n, True
                    return _Partial("".join(buf))
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
                if m.end() >= self.n:
                    self.truncated = True
                text = m.group()
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
            return _Partial(word)
        return word


# ----------------------------------------------------------------------------------------------- layouts

_FIELDS = {
    "score": ("score", "rating", "value", "grade", "points", "mark"),
    "comment": ("comment", "comments", "reason", "reasoning", "explanation", "justification", "rationale",
                "feedback", "analysis", "description", "text"),
    "name": ("aspect", "name", "key", "category", "dimension", "criterion", "criteria", "metric", "title"),
}
_FIELD_LOOKUP = {name: kind for kind, names in _FIELDS.items() for name in names}
_SEPARATOR = re.compile(r"[\s\-\u2013\u2014:,.;)]*")


@functools.lru_cache(maxsize=2048)
def _aspect_key(raw: str) -> str | None:
    """Canonical aspect key for a raw key (exact spellings, aliases, then close misspellings)."""
    if len(raw) > 60:  # difflib is quadratic in length; no aspect name is this long
        return None
    return canonical_key(raw) or canonical_key(raw, fuzzy=True)


@functools.lru_cache(maxsize=2048)
def _field_kind(raw: str) -> str | None:
    """'score', 'comment' or 'name' for a field key such as ``"Score"``, ``"scores"``, ``"socre"``."""
    norm = re.sub(r"[^a-z]+", "_", raw.lower()).strip("_")[:40]
    if norm in _FIELD_LOOKUP:
        return _FIELD_LOOKUP[norm]
    import difflib

    match = difflib.get_close_matches(norm, list(_FIELD_LOOKUP), n=1, cutoff=0.8)
    return _FIELD_LOOKUP[match[0]] if match else None


@dataclass
class _Entry:
    score: int | None = None
    comment: str | None = None
    score_flags: list[str] = field(default_factory=list)


def _comment(value: object) -> str | None:
    if isinstance(value, str) and not isinstance(value, _Partial):
        return value.strip() or None
    return None


def _split_score_text(text: str) -> _Entry:
    """``"4 - the ball falls naturally"`` -> score 4 and comment; text without a leading score keeps the text."""
    m = _SCORE_TEXT.match(text)
    if m is None:
        score, flags = parse_score_value(text)
        return _Entry(score, None if score is not None else _comment(text), flags)
    score, flags = parse_score_value(m.group())
    rest = text[m.end():]
    return _Entry(score, _comment(rest[_SEPARATOR.match(rest).end():]), flags)


def _entry(value: object) -> _Entry | None:
    """One aspect's value in any supported shape; None when no score was given (or it was cut off)."""
    if isinstance(value, _Partial):
        return None
    if isinstance(value, _Obj):
        found, score, comment = False, None, None
        for raw, v in value:
            kind = _field_kind(raw)
            if kind == "score" and not found and not isinstance(v, _Partial):
                found, score = True, v
            elif kind == "comment" and comment is None:
                comment = _comment(v)
        if not found:
            return _Entry(None, comment) if comment else None
        got, flags = parse_score_value(score)
        return _Entry(got, comment, flags)
    if isinstance(value, list):
        nums = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        texts = [v for v in value if isinstance(v, str)]
        if nums:
            got, flags = parse_score_value(nums[0])
            return _Entry(got, _comment(texts[0]) if texts else None, flags)
        return _split_score_text(texts[0]) if texts else None
    if isinstance(value, str):
        return _split_score_text(value)
    got, flags = parse_score_value(value)
    return _Entry(got, None, flags)


class _Result:
    """Entries per canonical key; the first entry with a score wins, later ones are flagged duplicates."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, _Entry]] = {}
        self.flags: list[str] = []

    def add(self, key: str, raw: str, entry: _Entry | None) -> None:
        if entry is None:
            return
        old = self.entries.get(key)
        if old is None or (old[1].score is None and entry.score is not None):
            self.entries[key] = (raw, entry)
        if old is not None:
            self.flags.append(f"duplicate:{key}")

    def merge(self, other: _Result) -> None:
        for key, (raw, entry) in other.entries.items():
            self.add(key, raw, entry)
        self.flags.extend(other.flags)

    @property
    def rank(self) -> tuple[int, int]:
        return sum(e.score is not None for _, e in self.entries.values()), len(self.entries)


def _from_map(obj: _Obj, depth: int = 0) -> _Result:
    """``{aspect: {...} | score | "4 - text"}`` and the ``{"scores": {...}, "comments": {...}}`` layout."""
    res, layout = _Result(), _Result()
    comment_maps = []
    for raw, value in obj:
        key = _aspect_key(raw)
        if key is not None:
            res.add(key, raw, _entry(value))
        elif isinstance(value, (_Obj, list)) and depth < 3:
            kind = _field_kind(raw)
            if kind == "score":
                layout.merge(_from_map(value, depth + 1) if isinstance(value, _Obj) else _from_list(value, depth + 1))
            elif kind == "comment" and isinstance(value, _Obj):
                comment_maps.append(value)
    if layout.entries and layout.rank >= res.rank:
        for cmap in comment_maps:
            for raw, value in cmap:
                key = _aspect_key(raw)
                if key in layout.entries and layout.entries[key][1].comment is None:
                    layout.entries[key][1].comment = _comment(value)
        return layout
    return res


def _from_list(items: list, depth: int = 0) -> _Result:
    """``[{"aspect": k, "score": s, "comment": c}, ...]`` or a list of one-aspect maps."""
    res = _Result()
    for item in items:
        if not isinstance(item, _Obj):
            continue
        names = [v for raw, v in item if isinstance(v, str) and _field_kind(raw) == "name"]
        key = _aspect_key(names[0]) if names else None
        if key is not None:
            res.add(key, names[0], _entry(item))
        else:
            res.merge(_from_map(item, depth + 1))
    return res


def _best(value: object, depth: int = 0) -> _Result:
    """The object or list, at any nesting depth, that yields the most aspect scores (first one on ties)."""
    if isinstance(value, _Obj):
        best, children = _from_map(value), [v for _, v in value]
    elif isinstance(value, list):
        best, children = _from_list(value), value
    else:
        return _Result()
    if depth < 4 and best.rank[0] < len(ASPECT_KEYS):
        for child in children:
            if isinstance(child, list):
                cand = _best(child, depth + 1)
                if cand.rank > best.rank:
                    best = cand
    return best


# ----------------------------------------------------------------------------------------------- text

_OPEN = re.compile(r"[{\[]")
_FENCE_MARK = re.compile(r"```[\w+-]*")
_DECODER = json.JSONDecoder(object_pairs_hook=_Obj, strict=False)  # strict=False: raw newlines in strings


@dataclass
class _Candidate:
    result: _Result
    flags: list[str]
    span: tuple[int, int]


def _fences(text: str) -> list[tuple[int, int]]:
    """(start, end) of the body of every ``` fence; an unclosed fence runs to the end of the text."""
    spans, i = [], 0
    while (start := text.find("```", i)) >= 0:
        eol = text.find("\n", start)
        body = len(text) if eol < 0 else eol + 1
        end = text.find("```", body)
        spans.append((body, len(text) if end < 0 else end))
        if end < 0:
            break
        i = end + 3
    return spans


def _scan(text: str, start: int, end: int) -> list[_Candidate]:
    """Every JSON-looking block in ``text[start:end]`` that holds at least one aspect score."""
    sub, found, i = text[start:end], [], 0
    while (m := _OPEN.search(sub, i)) is not None:
        p = m.start()
        try:
            value, j = _DECODER.raw_decode(sub, p)
            flags: list[str] = []
        except (ValueError, RecursionError):
            reader = _Reader(sub)
            reader.i = p
            try:
                value = reader.value(0)
            except (_TooDeep, RecursionError):
                i = max(reader.i, p + 1)  # skip the whole over-deep run: restarting inside it is quadratic
                continue
            j, flags = max(reader.i, p + 1), reader.flags + ["truncated"] * reader.truncated
            flags = flags or ["repaired_json"]  # e.g. a leading "+" or a NaN: not JSON, nothing specific
        result = _best(value)
        if result.rank[0]:
            found.append(_Candidate(result, flags, (start + p, start + j)))
        i = j
    return found


def _best_block(text: str) -> _Candidate | None:
    """The block with the most aspect scores; on ties the last one (an answer follows any echoed example)."""
    cands: dict[tuple[int, int], _Candidate] = {}
    for start, end in _fences(text):
        for cand in _scan(text, start, end):
            cand.flags.insert(0, "code_fence")
            cands[cand.span] = cand
    for cand in _scan(text, 0, len(text)):
        cands.setdefault(cand.span, cand)  # the same block already read inside its fence keeps that reading
    ordered = sorted(cands.values(), key=lambda c: c.span)
    return max(reversed(ordered), key=lambda c: c.result.rank, default=None)


_LINE_PREFIX = re.compile(r"[\s>*#\u2022\-\u2013\u2014]*(?:\d{1,2}[.)]\s+)?")
_LINE_SEP = re.compile(r":|=| [-\u2013\u2014] ")
_PAREN_SCORE = re.compile(r"([^()\[\]]{1,60}?)\s*[(\[]([^()\[\]]{1,30})[)\]]\s*$")


def _from_lines(text: str) -> _Result:
    """Last resort: ``Physics: 4 - comment``, ``**Physics** (4/5): comment``, ``1. Physics - 4``, or a heading
    line naming the aspect followed by ``Comment: ...`` / ``Score: 4`` lines."""
    res, pending = _Result(), {}
    current: str | None = None
    current_raw = ""
    for line in text.splitlines():
        line = line[:2000].replace("**", "").replace("__", "")
        line = line[_LINE_PREFIX.match(line).end():].strip()
        sep = _LINE_SEP.search(line, 0, 80)
        name, rest = (line, "") if sep is None else (line[:sep.start()].strip(), line[sep.end():].strip())
        paren = _PAREN_SCORE.match(name)
        if paren:
            name, rest = paren.group(1), f"{paren.group(2)} - {rest}"
        key = _aspect_key(name) if name else None
        if key is None and current is not None and rest:
            kind = _field_kind(name) if len(name) < 20 else None
            if kind == "comment" and current in res.entries and res.entries[current][1].comment is None:
                res.entries[current][1].comment = _comment(rest)  # comment written after the score
            elif kind == "comment":
                pending[current] = _comment(rest)
            elif kind == "score" and _SCORE_TEXT.match(rest):
                entry = _split_score_text(rest)
                entry.comment = entry.comment or pending.get(current)
                res.add(current, current_raw, entry)
            continue
        if key is not None and not rest:
            current, current_raw = key, name  # a heading such as "### Physics"
        elif key is not None and _SCORE_TEXT.match(rest):
            res.add(key, name, _split_score_text(rest))
    return res


def _unescape_whole(text: str) -> str | None:
    """The answer when the model wrote it JSON-escaped (``{\\"physics\\": ...}`` or one quoted string)."""
    stripped = text.strip()
    if stripped.startswith('"') and stripped.endswith('"'):
        try:
            inner = json.loads(stripped, strict=False)
        except ValueError:
            inner = None
        if isinstance(inner, str) and _OPEN.search(inner):
            return inner
    if '\\"' in text and text.count('"') == text.count('\\"'):
        return re.sub(r'\\(["\\nrt])', lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), text)
    return None


def extract_json_block(text: str) -> str | None:
    """The raw text of the JSON-looking block that :func:`parse_response` would read, or None."""
    best = _best_block(text)
    return None if best is None else text[best.span[0]:best.span[1]]


def _locate(text: str) -> tuple[_Result, list[str]] | None:
    """The best reading of ``text`` with its repair flags, or None when no aspect score was found."""
    best = _best_block(text)
    if best is not None:
        outside = _FENCE_MARK.sub("", text[:best.span[0]] + text[best.span[1]:])
        if outside.strip():
            best.flags.insert(0, "extra_text")
        return best.result, best.flags
    lines = _from_lines(text)
    return (lines, ["line_format"]) if lines.rank[0] else None


def parse_response(text: str) -> ParsedResponse:
    """Parse one model answer into nine aspect scores (int 0-5 or None) and comments, with repair flags.

    Never evaluates the text. Raises ResponseParseError (carrying the raw text) if no aspect score at all
    can be salvaged. See the module docstring for the accepted shapes, the repairs and the flag names.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise ResponseParseError(f"model response is {type(text).__name__}, expected str", repr(text))
    found = _locate(text)
    if found is None and (unescaped := _unescape_whole(text)) is not None:
        found = _locate(unescaped)
        if found is not None:
            found[1].insert(0, "double_escaped")
    if found is None:
        raise ResponseParseError(
            "no aspect score found in the model response (expected a JSON object mapping aspect keys such as "
            "'physics' to {'comment': str, 'score': int}); check max_new_tokens and the prompt template",
            text,
        )
    result, flags = found
    parsed = ParsedResponse(flags=list(flags))
    tail: list[str] = []
    for key, (raw, entry) in result.entries.items():
        parsed.scores[key], parsed.comments[key] = entry.score, entry.comment
        if raw not in (key, BY_KEY[key].released_key):
            parsed.flags.append(f"renamed:{' '.join(str(raw).split())[:40]}->{key}")
        tail.extend(f"{f}:{key}" for f in entry.score_flags)
    parsed.flags.extend(result.flags + tail)
    parsed.flags.extend(f"missing:{k}" for k in ASPECT_KEYS if parsed.scores[k] is None
                        and f"bad_score:{k}" not in tail)
    parsed.flags = list(dict.fromkeys(parsed.flags))
    if parsed.flags:
        log.debug("parsed model response with repairs: %s", parsed.flags)
    return parsed
