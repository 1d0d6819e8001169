"""Expected scores from the judge's own probabilities at the score digits it generated.

A judge that writes ``"score": 4`` also assigned probabilities to ``0``..``5`` at that step. The
probability-weighted mean is a finer, less quantised score than the argmax digit, and the top digit's share
is a confidence. Pure functions here (numpy only); the backend records the digit logits while generating.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from aigve.aspects import SCORE_MAX, SCORE_MIN, canonical_key

#: Score values in digit order; ``digit_ids[i]`` is the token id of ``str(SCORE_VALUES[i])``.
SCORE_VALUES: tuple[int, ...] = tuple(range(SCORE_MIN, SCORE_MAX + 1))

# A JSON key, not preceded by a backslash (a quote inside a string value is escaped, so it cannot match).
_KEY = re.compile(r'(?<!\\)"((?:[^"\\]|\\.)*)"\s*:\s*')
_SCORE = re.compile(r'(?<!\\)"score"\s*:\s*"?(-?\d+(?:\.\d+)?)')
_BARE_NUMBER = re.compile(r'"?(-?\d+(?:\.\d+)?)')


def expected_digit_score(
    logits: Sequence[float] | np.ndarray,
    digit_ids: Sequence[int],
    values: Sequence[int] = SCORE_VALUES,
) -> tuple[float, float]:
    """Expected score and confidence from one step's logits.

    ``logits``: 1-D, indexable by token id (the full vocabulary row, or just the digit logits with
    ``digit_ids = range(len(values))``). ``digit_ids[i]`` is the token of score ``values[i]``.
    With ``p_d`` the softmax probability of digit ``d`` (over the full vocabulary or over the digits alone:
    the ratios below are the same), returns ``(sum p_d * d / sum p_d, max p_d / sum p_d)``.
    """
    if len(digit_ids) != len(values) or not len(values):
        raise ValueError(f"need one token id per score value, got {len(digit_ids)} ids for {len(values)} values")
    z = np.asarray(logits, dtype=np.float64)[np.asarray(digit_ids, dtype=np.int64)]
    if not np.isfinite(z).any():
        raise ValueError("every score digit has -inf or NaN logit; no distribution to read")
    z = np.where(np.isfinite(z), z, -np.inf)
    p = np.exp(z - z.max())  # softmax restricted to the digits; the full-vocab normaliser cancels
    p /= p.sum()
    return float(p @ np.asarray(values, dtype=np.float64)), float(p.max())


def digit_mass(digit_logits: Sequence[float] | np.ndarray, logsumexp_all: float) -> float:
    """Total probability the full vocabulary gave the score digits: ``sum exp(z_d - logsumexp(z))``."""
    z = np.asarray(digit_logits, dtype=np.float64)
    return float(np.exp(z - logsumexp_all).sum())


def locate_score_digits(text: str) -> dict[str, int]:
    """Character offset of each aspect's score digit in a generated answer, by canonical aspect key.

    Reads the same score the parser reports: only inside the block :func:`aigve.parsing.parse_response`
    reads (when the answer echoes an example or writes a draft first), and for a key written twice, its first
    occurrence that carries a score (later ones are the parser's ``duplicate`` flags). Aspects are found
    through the JSON keys (any accepted spelling); the score is the first ``"score": N`` inside the aspect's
    object, or a bare number right after the key (``"dynamic": 3``). Only single-digit scores in
    [SCORE_MIN, SCORE_MAX] are located (``"10"``, ``"4.5"``, ``-1`` are not).
    """
    from aigve.parsing import json_block_span

    lo, hi = json_block_span(text) or (0, len(text))
    keys = [(m, canonical_key(m.group(1))) for m in _KEY.finditer(text, lo, hi)]
    aspects = [(m, key) for m, key in keys if key is not None]
    found: dict[str, int] = {}
    decided: set[str] = set()
    for i, (match, key) in enumerate(aspects):
        if key in decided:
            continue
        end = aspects[i + 1][0].start() if i + 1 < len(aspects) else hi
        bare = _BARE_NUMBER.match(text, match.end(), hi)
        score = bare or _SCORE.search(text, match.end(), end)
        if not score:
            continue  # no score here: a later occurrence may carry it, as in the parser
        decided.add(key)
        number, start = score.group(1), score.start(1)
        if len(number) == 1 and int(number) in SCORE_VALUES:
            found[key] = start
    return found


def token_index_at_char(decode_prefix: Callable[[int], str], num_tokens: int, char_pos: int) -> int | None:
    """Index of the token that produced character ``char_pos`` of the decoded text.

    ``decode_prefix(k)`` decodes the first ``k`` generated tokens. Binary search for the smallest ``k`` whose
    decoded prefix is longer than ``char_pos`` (prefix lengths grow with ``k``); the answer is ``k - 1``.
    Works for any tokenizer because it never assumes how tokens map to characters. None if out of range.
    """
    lo, hi = 1, num_tokens
    if num_tokens < 1 or len(decode_prefix(num_tokens)) <= char_pos:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if len(decode_prefix(mid)) > char_pos:
            hi = mid
        else:
            lo = mid + 1
    return lo - 1


def digit_token_ids(tokenizer) -> list[int] | None:
    """Token ids of ``"0"``..``"5"`` when each digit is a single token; None otherwise (no expected scores)."""
    ids = []
    for value in SCORE_VALUES:
        encoded = tokenizer.encode(str(value), add_special_tokens=False)
        if len(encoded) != 1:
            return None
        ids.append(int(encoded[0]))
    return ids if len(set(ids)) == len(ids) else None


def read_expected_scores(
    decode_prefix: Callable[[int], str],
    ids: Sequence[int],
    digit_ids: Sequence[int],
    digit_logits: np.ndarray,
    logsumexp: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Expected score, confidence and digit mass per aspect whose score digit the model generated.

    ``ids``: generated token ids (without the prompt); ``decode_prefix(k)`` decodes ``ids[:k]`` exactly as the
    answer text was decoded. ``digit_logits``: (len(ids), len(SCORE_VALUES)) logits of the digit tokens at
    each step; ``logsumexp``: (len(ids),) log-partition over the vocabulary (for the mass; optional).
    An aspect is skipped when its digit is not exactly the generated token at that step (e.g. merged with
    other characters into one token), since the step's distribution is then not over that choice.
    """
    text = decode_prefix(len(ids))
    expected: dict[str, float] = {}
    confidence: dict[str, float] = {}
    mass: dict[str, float] = {}
    for key, pos in locate_score_digits(text).items():
        step = token_index_at_char(decode_prefix, len(ids), pos)
        if step is None or step >= len(digit_logits) or ids[step] != digit_ids[SCORE_VALUES.index(int(text[pos]))]:
            continue
        expected[key], confidence[key] = expected_digit_score(digit_logits[step], range(len(SCORE_VALUES)))
        if logsumexp is not None:
            mass[key] = digit_mass(digit_logits[step], float(logsumexp[step]))
    return expected, confidence, mass
