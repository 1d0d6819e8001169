"""Model text -> scores and comments. Model output is untrusted input: parsed, repaired, validated; never eval'd.

How :func:`parse_response` reads an answer, cheapest first:

1. Strict ``json`` decoding of the answer's block (the released model's answers normally pass here, no flags).
2. Every ``{``/``[`` block, inside code fences first and then in the whole text, read by
   :func:`aigve.lenient_json.read_json`: when strict ``json`` fails, a tolerant reader that repairs Python
   quoting (``'...'``, ``True/False/None``), smart quotes, trailing or missing commas, unquoted keys and values,
   ``//``/``/* */``/``#`` comments, raw newlines and stray (unescaped) inner quotes, and returns what it has
   when the text ends early (truncation); see that module for why it is hand-written.
   The block (or nested object) holding the most aspect scores wins; ties go to the last one, since an
   answer follows any example the model (or an echoed prompt) wrote before it.
   Every quoted aspect key after the start of that block is also read on its own (:func:`_key_scan`), so the
   aspects garbage cut off from the block are recovered (flag ``salvaged``; ``garbage`` too when no block held
   an aspect at all).
3. As a last resort, line-oriented text such as ``Physics: 4 - the ball falls naturally`` (flag ``line_format``,
   :func:`aigve.parsing_text.read_lines`).

Flags (``ParsedResponse.flags``): repairs (``code_fence``, ``extra_text``, ``double_escaped``,
``python_quotes``, ``smart_quotes``, ``trailing_comma``, ``missing_comma``, ``missing_colon``, ``unquoted_keys``,
``unquoted_values``, ``comments``, ``inner_quotes``, ``mismatched_bracket``, ``garbage``, ``repaired_json``,
``line_format``, ``truncated``, ``salvaged``), then per aspect ``renamed:<raw>-><key>``, ``duplicate:<key>``,
``rounded:<key>``, ``rescaled:<key>``, ``clamped:<key>``, ``bad_score:<key>``, ``cut_score:<key>``,
``missing:<key>``. Key spellings go through one rule, :func:`aigve.aspects.normalise_aspect_name`.
The released spellings ``element_presentence``/``action_presentence`` are what the released model is trained
to write, so they are *not* flagged as renamed; any other non-canonical spelling is.

Scores: floats round half up (4.5 -> 5, 2.5 -> 3; flag ``rounded`` only when the value changed), ``"4/5"``
and ``"4 out of 5"`` read as 4, other denominators are rescaled to 0-5 (``"8/10"`` -> 4, flag ``rescaled``),
out-of-range values are clamped to [0, 5], anything non-numeric (words such as ``"five"``, ranges and choices
such as ``"3-4"`` or ``"2 or 3"``, ``"N/A"``, null, booleans) gives None with ``bad_score``. Truncation: an
aspect counts only if its score value was read completely; a number whose last digit is the last character
of the text (``"score": 4`` may have been ``4.5``) gives None with ``cut_score``; a comment cut by the end of
the text is dropped (None) rather than kept half-written.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from aigve.aspects import ASPECT_KEYS, BY_KEY
from aigve.errors import ResponseParseError
from aigve.lenient_json import MISSING, JSONObject, NestingTooDeep, PartialNumber, PartialString, read_json
from aigve.parsing_text import (
    Entries,
    Entry,
    aspect_key,
    comment_text,
    field_kind,
    parse_score_value,
    read_lines,
    split_score_text,
)

__all__ = ["ParsedResponse", "extract_json_block", "parse_response", "parse_score_value"]

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
        # A profile with its own aspect set (aigve.judges.formats) keys scores by its aspects instead.
        keys = ASPECT_KEYS if not set(self.scores) - set(ASPECT_KEYS) else tuple(self.scores)
        return [k for k in keys if self.scores.get(k) is None]

    def to_dict(self) -> dict[str, Any]:
        return {"scores": dict(self.scores), "comments": dict(self.comments), "flags": list(self.flags)}


# ----------------------------------------------------------------------------------------------- layouts


def _entry(value: object) -> Entry | None:
    """One aspect's value in any supported shape; None when no score was given (or it was cut off)."""
    if isinstance(value, (PartialString, PartialNumber)):
        return Entry(None, None, ["cut_score"])  # cut by the end of the text: no score, but say so
    if isinstance(value, JSONObject):
        found, score, comment = False, None, None
        for raw, v in value:
            kind = field_kind(raw)
            if kind == "score" and not found:
                found, score = True, v
            elif kind == "comment" and comment is None:
                comment = comment_text(v)
        if not found:
            return Entry(None, comment) if comment else None
        got, flags = parse_score_value(score)
        return Entry(got, comment, flags)
    if isinstance(value, list):
        nums = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        texts = [v for v in value if isinstance(v, str)]
        if nums:
            got, flags = parse_score_value(nums[0])
            return Entry(got, comment_text(texts[0]) if texts else None, flags)
        return split_score_text(texts[0]) if texts else None
    if isinstance(value, str):
        return split_score_text(value)
    got, flags = parse_score_value(value)
    return Entry(got, None, flags)


def _from_map(obj: JSONObject, depth: int = 0) -> Entries:
    """``{aspect: {...} | score | "4 - text"}`` and the ``{"scores": {...}, "comments": {...}}`` layout."""
    res, layout = Entries(), Entries()
    comment_maps = []
    for raw, value in obj:
        key = aspect_key(raw)
        if key is not None:
            res.add(key, raw, _entry(value))
        elif isinstance(value, (JSONObject, list)) and depth < 3:
            kind = field_kind(raw)
            if kind == "score" and isinstance(value, JSONObject):
                layout.merge(_from_map(value, depth + 1))
            elif kind == "score":
                layout.merge(_from_list(value, depth + 1))
            elif kind == "comment" and isinstance(value, JSONObject):
                comment_maps.append(value)
    if layout.entries and layout.rank >= res.rank:
        for cmap in comment_maps:
            for raw, value in cmap:
                key = aspect_key(raw)
                if key in layout.entries and layout.entries[key][1].comment is None:
                    layout.entries[key][1].comment = comment_text(value)
        return layout
    return res


def _from_list(items: list, depth: int = 0) -> Entries:
    """``[{"aspect": k, "score": s, "comment": c}, ...]`` or a list of one-aspect maps."""
    res = Entries()
    for item in items:
        if not isinstance(item, JSONObject):
            continue
        names = [v for raw, v in item if isinstance(v, str) and field_kind(raw) == "name"]
        key = aspect_key(names[0]) if names else None
        if key is not None:
            res.add(key, names[0], _entry(item))
        else:
            res.merge(_from_map(item, depth + 1))
    return res


def _best(value: object, depth: int = 0) -> Entries:
    """The object or list, at any nesting depth, that yields the most aspect scores (first one on ties)."""
    if isinstance(value, JSONObject):
        best, children = _from_map(value), [v for _, v in value]
    elif isinstance(value, list):
        best, children = _from_list(value), value
    else:
        return Entries()
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


@dataclass
class _Candidate:
    result: Entries
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
            reading = read_json(sub, p)
        except NestingTooDeep as exc:
            i = exc.end  # skip the whole over-deep run: restarting inside it is quadratic
            continue
        result = _best(reading.value)
        if result.rank[0]:
            found.append(_Candidate(result, reading.flags, (start + p, start + reading.end)))
        i = reading.end
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


def json_block_span(text: str) -> tuple[int, int] | None:
    """(start, end) character offsets of the block that :func:`parse_response` would read, or None."""
    best = _best_block(text)
    return None if best is None else best.span


def extract_json_block(text: str) -> str | None:
    """The raw text of the JSON-looking block that :func:`parse_response` would read, or None."""
    span = json_block_span(text)
    return None if span is None else text[span[0]:span[1]]


# A quoted key followed by a colon: where an aspect's value starts, found without reading the enclosing block.
_QUOTED_KEY = re.compile(r"[\"'\u201c\u201d\u2018\u2019]([A-Za-z][\w \-]{0,40})[\"'\u201c\u201d\u2018\u2019]\s{0,5}[:=]\s*")


def _key_scan(text: str, start: int) -> Entries:
    """Every ``"<aspect>": value`` in ``text[start:]``, each value read on its own.

    Garbage (a garbled first line, a stray bracket) can end or swallow the block the reader is in, after which
    the remaining aspect blocks are no longer inside any object that :func:`_best_block` sees. Reading each
    quoted aspect key's value directly recovers every well-formed block; a value is still only what is written
    right after that aspect's own key, so nothing is invented.
    """
    found = Entries()
    for m in _QUOTED_KEY.finditer(text, start):
        key = aspect_key(m.group(1))
        if key is None:
            continue
        try:
            reading = read_json(text, m.end())
        except NestingTooDeep:
            continue
        value = reading.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and reading.end >= len(text):
            value = PartialNumber(text[m.end():reading.end])  # strict json took "4" at the very end: maybe "4.5"
        if value is not MISSING:
            found.add(key, m.group(1), _entry(value))
    return found


def _salvage(text: str, result: Entries | None, start: int) -> tuple[Entries, bool] | None:
    """``result`` completed with the aspects :func:`_key_scan` finds from ``start`` on that it lacks (only
    from ``start`` on: an example echoed before the answer must not fill it); whether anything was added."""
    if result is not None and result.rank[0] == len(ASPECT_KEYS):
        return result, False
    scan = _key_scan(text, start)
    result = result if result is not None else Entries()
    added = False
    for key, (raw, entry) in scan.entries.items():
        have = result.entries.get(key)
        if have is None or (have[1].score is None and entry.score is not None):
            result.entries[key], added = (raw, entry), True
    return (result, added) if result.entries else None


def _locate(text: str) -> tuple[Entries, list[str]] | None:
    """The best reading of ``text`` with its repair flags, or None when no aspect score was found."""
    best = _best_block(text)
    if best is not None:
        outside = _FENCE_MARK.sub("", text[:best.span[0]] + text[best.span[1]:])
        if outside.strip():
            best.flags.insert(0, "extra_text")
        result, added = _salvage(text, best.result, best.span[0])
        return result, best.flags + ["salvaged"] * added
    salvaged = _salvage(text, None, 0)
    if salvaged is not None and salvaged[0].rank[0]:
        return salvaged[0], ["garbage", "salvaged"]
    lines = read_lines(text)
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
                        and f"bad_score:{k}" not in tail and f"cut_score:{k}" not in tail)
    parsed.flags = list(dict.fromkeys(parsed.flags))
    if parsed.flags:
        log.debug("parsed model response with repairs: %s", parsed.flags)
    return parsed
