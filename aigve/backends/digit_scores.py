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
# A lone digit 0-5: not part of a longer number, a decimal or a negative number.
_SINGLE_DIGIT = re.compile(r'(?<![\d.\-])[0-5](?![\d.])')


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


def _hinted_positions(text: str) -> dict[str, list[int]]:
    """Cheap guesses, in text order, of where each aspect's score digit is: a number right after an aspect
    key (``"dynamic": 3``) or the first ``"score": N`` inside the aspect's object, for every occurrence."""
    keys = [(m, canonical_key(m.group(1))) for m in _KEY.finditer(text)]
    aspects = [(m, key) for m, key in keys if key is not None]
    hints: dict[str, list[int]] = {}
    for i, (match, key) in enumerate(aspects):
        end = aspects[i + 1][0].start() if i + 1 < len(aspects) else len(text)
        score = _BARE_NUMBER.match(text, match.end()) or _SCORE.search(text, match.end(), end)
        if score:
            hints.setdefault(key, []).append(score.start(1))
    return hints


def locate_score_digits(text: str) -> dict[str, int]:
    """Character offset of each aspect's score digit in a generated answer, by canonical aspect key.

    The digit is the one :func:`aigve.parsing.parse_response` reads, proven by changing it: position ``p``
    counts for aspect ``k`` only if the parser's score for ``k`` equals the digit at ``p`` and becomes the
    new digit when ``p`` alone is rewritten. This holds whatever the answer's shape (an echoed example, a
    key written twice, comments before scores, a digit inside a comment, a cut-off string), so expected
    scores are always read at the generated token that decided the reported score. Only single-digit
    scores in [SCORE_MIN, SCORE_MAX] are located (``"10"``, ``"4.5"``, ``-1`` are not); an aspect whose digit
    cannot be proven is left out.

    Cost: digits right after the aspect's keys are tried first (a clean answer: one parse per aspect); other
    candidates are group-tested (all rewritten at once, then halved), so a long answer full of digits costs
    about log2(candidates) parses per aspect, not one per digit.
    """
    from aigve.errors import ResponseParseError
    from aigve.parsing import parse_response

    try:
        first = parse_response(text)
    except ResponseParseError:
        return {}
    flags = set(first.flags)
    digits = [m.start() for m in _SINGLE_DIGIT.finditer(text)]
    hints = _hinted_positions(text)
    found: dict[str, int] = {}
    for key, want in first.scores.items():
        if want is None or want not in SCORE_VALUES:
            continue
        if any(f"{flag}:{key}" in flags for flag in ("rounded", "rescaled", "clamped")):
            continue  # the score was not written as a lone digit: there is no digit to read it at
        pos = _proven_position(text, key, want, hints.get(key, ()), digits)
        if pos is not None:
            found[key] = pos
    return found


def _flips(text: str, key: str, other: int, positions: Sequence[int]) -> bool:
    """Does rewriting these positions (all holding the parsed score's digit) move ``key``'s parsed score to
    ``other``? Only digits change, so the answer's structure, and which value the parser reads, stay put."""
    from aigve.errors import ResponseParseError
    from aigve.parsing import parse_response

    chars = list(text)
    for q in positions:
        chars[q] = str(other)
    try:
        return parse_response("".join(chars)).scores.get(key) == other
    except ResponseParseError:
        return False


def _proven_position(text: str, key: str, want: int, hinted: Sequence[int], digits: Sequence[int]) -> int | None:
    """The position of the digit that decides ``key``'s parsed score ``want``, or None when none can be proven."""
    digit, other = str(want), SCORE_VALUES[(SCORE_VALUES.index(want) + 1) % len(SCORE_VALUES)]
    pos = next((q for q in hinted if text[q] == digit and _flips(text, key, other, [q])), None)
    if pos is not None:
        return pos
    candidates = [q for q in digits if text[q] == digit]
    if not candidates or not _flips(text, key, other, candidates):
        return None
    while len(candidates) > 1:  # the deciding digit is among them: halve until one is left
        half = candidates[: len(candidates) // 2]
        candidates = half if _flips(text, key, other, half) else candidates[len(candidates) // 2:]
    return candidates[0] if _flips(text, key, other, candidates) else None  # proven alone, as promised


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


#: VideoScore2's soft score reads the digits 1-5 (columns 1..5 of the recorded 0-5 digit logits).
VS2_DIGITS = slice(1, 6)


def vs2_score_step(decode_prefix: Callable[[int], str], num_tokens: int, label: str) -> int | None:
    """The generation step of the score digit after ``label`` (e.g. ``"visual quality:"``), found as VideoScore2's
    release finds it (vs2_inference.py ``find_score_token_index_by_prompt``): the first match of
    ``(?:\\(\\d+\\)\\s*|\\n\\s*)?`` + label (case-insensitive), then the first digit after it; the step is the token
    whose decoded prefix ends exactly at that digit (None when no prefix does, as the release returns -1).
    The release scans every prefix; prefix lengths grow with the step, so a binary search finds the same one."""
    text = decode_prefix(num_tokens)
    match = re.search(r"(?:\(\d+\)\s*|\n\s*)?" + re.escape(label), text, flags=re.IGNORECASE)
    digit = re.search(r"\d", text[match.end():]) if match else None
    if digit is None:
        return None
    pos = match.end() + digit.start()
    step = token_index_at_char(decode_prefix, num_tokens, pos)
    return step if step is not None and decode_prefix(step + 1) == text[:pos + 1] else None


def vs2_soft_score(digit_logits: Sequence[float] | np.ndarray, temperature: float) -> tuple[float, float]:
    """VideoScore2's normalised soft score at one step (vs2_inference.py ``ll_based_soft_score_normed``):
    ``p_d`` the probabilities of the digits 1-5 under the sampling temperature, ``best`` the likeliest digit
    (first on ties) and ``norm = max p_d / sum p_d``; returns ``(round(best * norm, 4), norm)``.

    ``digit_logits``: the step's logits of the digits 0-5 (as the backend records them). The release reads the
    processed scores (``output_scores``: temperature, then the checkpoint's top-k/top-p); here the temperature
    is applied and the truncation is not, which only matters for a digit outside the top-k, whose probability
    is then negligible anyway."""
    z = np.asarray(digit_logits, dtype=np.float64)[VS2_DIGITS] / float(temperature)
    p = np.exp(z - z.max())
    p /= p.sum()
    best = int(np.argmax(p)) + 1
    norm = float(p.max())
    return round(best * norm, 4), norm


def read_vs2_soft_scores(decode_prefix: Callable[[int], str], num_tokens: int, digit_logits: np.ndarray,
                         labels: dict[str, str], hard: dict[str, int | None], temperature: float
                         ) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Soft score and ``norm`` per dimension (``labels``: key -> the answer's label, e.g. ``"visual quality:"``);
    None where the parsed (hard) score is None or the label's digit step is not found, as the release does.
    ``digit_logits``: ``(num_tokens, 6)``."""
    soft: dict[str, float | None] = dict.fromkeys(labels)
    norms: dict[str, float | None] = dict.fromkeys(labels)
    for key, label in labels.items():
        step = vs2_score_step(decode_prefix, num_tokens, label) if hard.get(key) is not None else None
        if step is not None and step < len(digit_logits):
            soft[key], norms[key] = vs2_soft_score(digit_logits[step], temperature)
    return soft, norms
