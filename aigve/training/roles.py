"""Token roles of a training target, found from character spans of the JSON text and the tokenizer's offsets.

The target answer (``aigve.prompt.format_answer``) is JSON. We locate, in the *text*, which characters are
score digits, comment text, keys and JSON structure, then give each token the role of the characters it
covers (``return_offsets_mapping``). Nothing depends on how a tokenizer happens to split digits or
punctuation: a token that merges ``": 4`` into one piece is a score token because it covers a score digit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aigve.aspects import canonical_key

# Role ids, in priority order (a token covering characters of several roles takes the highest).
STRUCTURE, KEY, COMMENT, SCORE, END = 0, 1, 2, 3, 4
ROLES = ("structure", "key", "comment", "score", "end")

# Python's json module reports no character positions, so the generated JSON is lexed here: strings
# (with escapes), numbers, and any other single non-space character. Whitespace stays STRUCTURE.
_LEXEME = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|\S')


@dataclass(frozen=True)
class Span:
    """Characters ``[start, end)`` of the answer text with one role; ``aspect`` for score/comment spans."""

    start: int
    end: int
    role: int
    aspect: str | None = None


@dataclass
class TargetTokens:
    """A tokenised target: ``input_ids`` (answer tokens, then ``<|im_end|>`` if given), one role per
    token, and ``score_aspect`` = canonical aspect key for the *first* token of each score, else None."""

    input_ids: list[int]
    roles: list[int]
    score_aspect: list[str | None]


def answer_spans(text: str) -> list[Span]:
    """Character spans of keys, comment texts and score digits in a JSON answer.

    Keys: the characters inside the quotes of every object key. Comments: the characters inside the
    quotes of a ``"comment"`` value. Scores: the digits of a ``"score"`` value (any number of digits;
    sign and decimal point count as score characters too). Quotes, braces, colons, commas and
    whitespace are structure (no span). ``aspect`` is the canonical key of the enclosing aspect.
    """
    spans: list[Span] = []
    lexemes = list(_LEXEME.finditer(text))
    stack: list[str | None] = []  # canonical aspect key (or None) per open object
    last_key: str | None = None
    for i, m in enumerate(lexemes):
        tok = m.group()
        nxt = lexemes[i + 1].group() if i + 1 < len(lexemes) else ""
        if tok == "{":
            stack.append(canonical_key(last_key) if last_key else None)
            last_key = None
        elif tok == "}":
            if stack:
                stack.pop()
        elif tok.startswith('"') and nxt == ":":  # an object key
            spans.append(Span(m.start() + 1, m.end() - 1, KEY))
            last_key = _unquote(tok)
        elif tok.startswith('"') and last_key == "comment":
            spans.append(Span(m.start() + 1, m.end() - 1, COMMENT, _current(stack)))
        elif tok[0] in "-0123456789" and len(tok) > (tok[0] == "-") and last_key == "score":
            spans.append(Span(m.start(), m.end(), SCORE, _current(stack)))
        if tok == ",":
            last_key = None
    return spans


def char_roles(text: str) -> tuple[list[int], list[str | None]]:
    """Role of every character of ``text`` (STRUCTURE where no span) and the aspect of score characters."""
    roles = [STRUCTURE] * len(text)
    aspects: list[str | None] = [None] * len(text)
    for span in answer_spans(text):
        for c in range(span.start, span.end):
            roles[c] = span.role
            if span.role == SCORE:
                aspects[c] = span.aspect
    return roles, aspects


def token_roles(offsets: list[tuple[int, int]], text: str) -> tuple[list[int], list[str | None]]:
    """Role per token from character ``offsets`` (as a fast tokenizer returns them) over ``text``.

    A token takes the highest-priority role among the characters it covers (SCORE > COMMENT > KEY >
    STRUCTURE), so a token merging a digit with punctuation still counts as a score token. Tokens with
    empty offsets (special tokens) are STRUCTURE. ``score_aspect`` marks the first token of each score
    with its aspect (the token whose prediction decides the leading digit).
    """
    roles_c, aspects_c = char_roles(text)
    roles: list[int] = []
    score_aspect: list[str | None] = []
    seen: set[tuple[str | None, int]] = set()
    for start, end in offsets:
        covered = roles_c[start:end]
        role = max(covered) if covered else STRUCTURE
        roles.append(role)
        first = None
        if role == SCORE:
            c = next(c for c in range(start, end) if roles_c[c] == SCORE)
            span_start = c
            while span_start > 0 and roles_c[span_start - 1] == SCORE:
                span_start -= 1
            if (aspects_c[c], span_start) not in seen:
                seen.add((aspects_c[c], span_start))
                first = aspects_c[c]
        score_aspect.append(first)
    return roles, score_aspect


def tokenize_target(tokenizer, text: str, *, end_token: str | None = "<|im_end|>") -> TargetTokens:
    """Tokenise an answer with offsets and append ``end_token`` (role END) when given.

    ``tokenizer`` must be a fast (Rust) tokenizer: offsets are what make the roles exact.
    """
    if not getattr(tokenizer, "is_fast", False):
        from aigve.errors import ConfigError

        raise ConfigError("tokenizer", type(tokenizer).__name__,
                          "token roles need a fast tokenizer (return_offsets_mapping); load it with use_fast=True")
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    roles, score_aspect = token_roles([tuple(o) for o in enc["offset_mapping"]], text)
    if end_token is not None:
        end_id = tokenizer.convert_tokens_to_ids(end_token)
        if end_id is None or end_id == tokenizer.unk_token_id:
            from aigve.errors import ConfigError

            raise ConfigError("end_token", end_token, "not in the tokenizer's vocabulary")
        ids.append(end_id)
        roles.append(END)
        score_aspect.append(None)
    return TargetTokens(ids, roles, score_aspect)


def _unquote(lexeme: str) -> str:
    import json

    try:
        return json.loads(lexeme)
    except ValueError:
        return lexeme[1:-1]


def _current(stack: list[str | None]) -> str | None:
    return next((k for k in reversed(stack) if k), None)
