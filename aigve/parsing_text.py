"""Scores and comments written as text, and the per-aspect entries both answer readers fill.

Used by :mod:`aigve.parsing`: :func:`parse_score_value` (``"4/5"``, ``4.5``), field and aspect
name lookup (``"Score"``, ``"Reason"``, ``"Technical Quality"``), ``"4 - the ball falls naturally"`` values,
and :func:`read_lines`, the last-resort reader for answers written as lines rather than JSON
(``Physics: 4 - comment``). Comments cut off by truncation (:class:`~aigve.lenient_json.PartialString`) are
dropped rather than kept half-written.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

from aigve.aspects import SCORE_MAX, SCORE_MIN, canonical_key
from aigve.lenient_json import PartialNumber, PartialString

# ----------------------------------------------------------------------------------------------- scores

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
# "4", "4.5", "4/5", "4 / 5", "4 out of 5", "score: 4", "4 (good)"; bounded, no nested quantifiers.
SCORE_TEXT = re.compile(
    rf"\s{{0,20}}(?:(?:score|rating)\s{{0,5}}[:=]?\s{{0,5}})?({_NUM})(?![A-Za-z\d])"
    rf"(?:\s{{0,5}}(?:/|out\s{{1,5}}of)\s{{0,5}}({_NUM}))?",
    re.IGNORECASE,
)
# What may not follow a score: a second number making it a range or a choice ("3-4", "3 to 4", "2 or 3",
# "4, 5"). Such a value names no single score, so it gives None (bad_score) rather than its first number.
_AMBIGUOUS = re.compile(r"\s{0,5}(?:[-\u2013\u2014~,;&/]|to\b|or\b|and\b)\s{0,5}[+-]?\.?\d", re.IGNORECASE)


def parse_score_value(value: object) -> tuple[int | None, list[str]]:
    """Turn one raw score value into an int in [0, 5], with bare flags naming any repair.

    Accepts ints, floats (rounded half up), and strings like ``"4"``, ``"4.0"``, ``"4/5"``, ``"4 out of 5"``,
    ``"8/10"`` (rescaled to 0-5). Anything else is None: words (``"five"``), ranges and choices (``"3-4"``,
    ``"2 or 3"``), ``"N/A"``, null, booleans (flag ``"bad_score"``), and a value cut off by the end of the
    text (a :class:`~aigve.lenient_json.PartialNumber` or PartialString, flag ``"cut_score"``).
    Returns ``(score, flags)`` where flags are drawn from ``"rounded"``, ``"rescaled"``, ``"clamped"``,
    ``"bad_score"``, ``"cut_score"``. Pure; never raises.
    """
    flags: list[str] = []
    if isinstance(value, (PartialNumber, PartialString)):
        return None, ["cut_score"]
    if isinstance(value, bool) or value is None:
        return None, ["bad_score"]
    if isinstance(value, int):
        number: float = value
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        m = SCORE_TEXT.match(value[:200])
        if m is None or _AMBIGUOUS.match(value, m.end()):
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


# ----------------------------------------------------------------------------------------------- names

_FIELDS = {
    "score": ("score", "rating", "value", "grade", "points", "mark"),
    "comment": ("comment", "comments", "reason", "reasoning", "explanation", "justification", "rationale",
                "feedback", "analysis", "description", "text"),
    "name": ("aspect", "name", "key", "category", "dimension", "criterion", "criteria", "metric", "title"),
}
_FIELD_LOOKUP = {name: kind for kind, names in _FIELDS.items() for name in names}
_SEPARATOR = re.compile(r"[\s\-\u2013\u2014:,.;)]*")


@functools.lru_cache(maxsize=2048)
def aspect_key(raw: str) -> str | None:
    """Canonical aspect key for a raw key (exact spellings, aliases, then close misspellings)."""
    if len(raw) > 60:  # difflib is quadratic in length; no aspect name is this long
        return None
    return canonical_key(raw) or canonical_key(raw, fuzzy=True)


@functools.lru_cache(maxsize=2048)
def field_kind(raw: str) -> str | None:
    """'score', 'comment' or 'name' for a field key such as ``"Score"``, ``"scores"``, ``"socre"``."""
    norm = re.sub(r"[^a-z]+", "_", raw.lower()).strip("_")[:40]
    if norm in _FIELD_LOOKUP:
        return _FIELD_LOOKUP[norm]
    import difflib

    match = difflib.get_close_matches(norm, list(_FIELD_LOOKUP), n=1, cutoff=0.8)
    return _FIELD_LOOKUP[match[0]] if match else None


# ----------------------------------------------------------------------------------------------- entries


@dataclass
class Entry:
    """One aspect as read: score (int 0-5 or None), comment, and the bare score flags (``"rounded"``, ...)."""

    score: int | None = None
    comment: str | None = None
    score_flags: list[str] = field(default_factory=list)


def comment_text(value: object) -> str | None:
    """A comment value stripped, or None when it is empty, was cut by truncation, or is not text.

    A number (``"comment": 4``) is kept as its text and a list of complete strings (``"comment": ["a", "b"]``)
    is joined with spaces: the model said something, and dropping it silently would hide that.
    """
    if isinstance(value, str) and not isinstance(value, PartialString):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(v, str) and not isinstance(v, PartialString)
                                                 for v in value):
        return " ".join(v.strip() for v in value if v.strip()) or None
    return None


def split_score_text(text: str) -> Entry:
    """``"4 - the ball falls naturally"`` -> score 4 and comment; text without a leading score keeps the text."""
    m = SCORE_TEXT.match(text)
    if m is None:
        score, flags = parse_score_value(text)
        return Entry(score, None if score is not None else comment_text(text), flags)
    if _AMBIGUOUS.match(text, m.end()):
        return Entry(None, None, ["bad_score"])
    score, flags = parse_score_value(m.group())
    rest = text[m.end():]
    return Entry(score, comment_text(rest[_SEPARATOR.match(rest).end():]), flags)


class Entries:
    """Entries per canonical key; the first entry with a score wins, later ones are flagged duplicates."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, Entry]] = {}
        self.flags: list[str] = []

    def add(self, key: str, raw: str, entry: Entry | None) -> None:
        if entry is None:
            return
        old = self.entries.get(key)
        if old is None or (old[1].score is None and entry.score is not None):
            self.entries[key] = (raw, entry)
        if old is not None:
            self.flags.append(f"duplicate:{key}")

    def merge(self, other: Entries) -> None:
        for key, (raw, entry) in other.entries.items():
            self.add(key, raw, entry)
        self.flags.extend(other.flags)

    @property
    def rank(self) -> tuple[int, int]:
        """(aspects with a score, aspects seen): the block that reads best has the highest rank."""
        return sum(e.score is not None for _, e in self.entries.values()), len(self.entries)


# ----------------------------------------------------------------------------------------------- lines

_LINE_PREFIX = re.compile(r"[\s>*#\u2022\-\u2013\u2014]*(?:\d{1,2}[.)]\s+)?")
_LINE_SEP = re.compile(r":|=| [-\u2013\u2014] ")
_PAREN_SCORE = re.compile(r"([^()\[\]]{1,60}?)\s*[(\[]([^()\[\]]{1,30})[)\]]\s*$")


def read_lines(text: str) -> Entries:
    """Last resort: ``Physics: 4 - comment``, ``**Physics** (4/5): comment``, ``1. Physics - 4``, or a heading
    line naming the aspect followed by ``Comment: ...`` / ``Score: 4`` lines."""
    res, pending = Entries(), {}
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
        key = aspect_key(name) if name else None
        if key is None and current is not None and rest:
            kind = field_kind(name) if len(name) < 20 else None
            if kind == "comment" and current in res.entries and res.entries[current][1].comment is None:
                res.entries[current][1].comment = comment_text(rest)  # comment written after the score
            elif kind == "comment":
                pending[current] = comment_text(rest)
            elif kind == "score" and SCORE_TEXT.match(rest):
                entry = split_score_text(rest)
                entry.comment = entry.comment or pending.get(current)
                res.add(current, current_raw, entry)
            continue
        if key is not None and not rest:
            current, current_raw = key, name  # a heading such as "### Physics"
        elif key is not None and SCORE_TEXT.match(rest):
            res.add(key, name, split_score_text(rest))
    return res
