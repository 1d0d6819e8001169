"""Fuzzing the answer parser with mutated real judge outputs (issue 19, point 2).

Properties, over answers built from the 149 real outputs in the shared sample with mutations (truncation at
every kind of position, garbage before/after, key respellings, score values replaced):

1. :func:`aigve.parse_response` raises nothing but :class:`ResponseParseError`;
2. every score it returns is literally in the text at that aspect: some number written after one of that
   aspect's keys (before the next aspect key) reads as that score;
3. without value replacements, every score it returns is the full answer's score (a truncated or garbled
   answer loses aspects, it never changes one).

Plus the prefix check: for every real output, every truncated prefix's scores are None or the full answer's.
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigve.aspects import ASPECT_KEYS, BY_KEY, normalise_aspect_name
from aigve.errors import ResponseParseError
from aigve.parsing import parse_response
from aigve.parsing_text import parse_score_value

_KEY_RE = re.compile(r'"(\w+)":\s*\{')
_SCORE_RE = re.compile(r'("score":\s*)(\d)')
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:\s*(?:/|out\s+of)\s*\d+(?:\.\d*)?)?")

_VALUES = ["0", "3", "5", "4.5", "2.0", '"4/5"', '"8/10"', '"five"', '"3-4"', '"2 or 3"', '"N/A"', "null", "7", "-1",
           '"4"', "true", '"3 (fair)"']
_GARBAGE = list('{}[]:,"\'\\#*\n\t .-+') + list("abcxyz") + ["```", "```json\n", "null", "score", "comment", "0", "9"]


def _spellings(key: str) -> list[str]:
    a = BY_KEY[key]
    base = [a.key, a.released_key, a.label, *a.aliases]
    return base + [f"{key}_score", f"score_{key}", a.label.title() + " Score", key.upper()]


@pytest.fixture(scope="module")
def outputs(shared_dir) -> list[str]:
    path = shared_dir / "data" / "aigve_macs_outputs_sample.jsonl"
    return [json.loads(line)["output"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _full_scores(text: str) -> dict[str, int | None]:
    return parse_response(text).scores


@st.composite
def _answers(draw, outputs: list[str]):
    """(text, original output, whether score values were replaced)."""
    text = original = draw(st.sampled_from(outputs))
    replaced = False
    if draw(st.booleans()):  # respell keys
        def respell(m: re.Match) -> str:
            key = normalise_aspect_name(m.group(1))
            from aigve.aspects import canonical_key
            canon = canonical_key(key)
            return f'"{draw(st.sampled_from(_spellings(canon)))}": {{' if canon else m.group()
        text = _KEY_RE.sub(respell, text)
    if draw(st.booleans()):  # replace some score values
        def revalue(m: re.Match) -> str:
            return m.group(1) + (draw(st.sampled_from(_VALUES)) if draw(st.booleans()) else m.group(2))
        text = _SCORE_RE.sub(revalue, text)
        replaced = True
    if draw(st.booleans()):  # garbage before (a garbled start, as issue 19 saw)
        head = "".join(draw(st.lists(st.sampled_from(_GARBAGE), max_size=12)))
        text = head + text[draw(st.integers(0, min(200, len(text)))):]
    if draw(st.booleans()):
        text += "".join(draw(st.lists(st.sampled_from(_GARBAGE), max_size=8)))
    kind = draw(st.sampled_from(["none", "any", "after_digit", "after_quote", "after_colon"]))
    if kind == "any":
        text = text[:draw(st.integers(0, len(text)))]
    elif kind != "none":
        pattern = {"after_digit": r"\d", "after_quote": '"', "after_colon": ":"}[kind]
        ends = [m.end() for m in re.finditer(pattern, text)]
        if ends:
            text = text[:draw(st.sampled_from(ends))]
    return text, original, replaced


def _allowed(text: str, key: str) -> set[int | None]:
    """Scores that numbers written after one of ``key``'s quoted keys (up to the next aspect key) read as."""
    spans = []
    for m in re.finditer(r"[\"'\u201c\u201d\u2018\u2019]?([A-Za-z][\w \-]{0,40})[\"'\u201c\u201d\u2018\u2019]?\s*[:=]", text):
        from aigve.aspects import canonical_key
        spans.append((m.start(), canonical_key(m.group(1)) or canonical_key(m.group(1), fuzzy=True)))
    spans = [(p, k) for p, k in spans if k is not None]
    allowed: set[int | None] = set()
    for i, (pos, k) in enumerate(spans):
        if k != key:
            continue
        end = next((p for p, other in spans[i + 1:] if other != key), len(text))
        for num in _NUMBER.finditer(text, pos, end):
            allowed.add(parse_score_value(num.group())[0])
            try:
                allowed.add(parse_score_value(float(num.group().split("/")[0].split("out")[0]))[0])
            except ValueError:
                pass
    return allowed


def _check(text: str, original: str, replaced: bool) -> None:
    try:
        parsed = parse_response(text)
    except ResponseParseError:
        return
    full = _full_scores(original)
    for key in ASPECT_KEYS:
        got = parsed.scores[key]
        if got is None:
            continue
        assert got in _allowed(text, key), (key, got, text[-200:])
        if not replaced:
            assert got == full[key], (key, got, full[key], text[-120:])


def _fuzz(outputs: list[str], n: int):
    @settings(max_examples=n, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(_answers(outputs))
    def run(case) -> None:
        _check(*case)

    run()


def test_fuzzed_real_answers(outputs) -> None:
    _fuzz(outputs, 1000)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_fuzzed_real_answers_many(outputs) -> None:
    _fuzz(outputs, 10_000)


def _prefix_disagreements(outputs: list[str], step: int) -> tuple[int, list[tuple[str, str]]]:
    checked, bad = 0, []
    for output in outputs:
        full = _full_scores(output)
        cuts = set(range(0, len(output), step)) | {m.end() for m in re.finditer(r"\d", output)}
        for cut in sorted(cuts):
            checked += 1
            try:
                scores = parse_response(output[:cut]).scores
            except ResponseParseError:
                continue
            bad += [(k, output[max(0, cut - 40):cut]) for k, v in scores.items() if v is not None and v != full[k]]
    return checked, bad


def _decimal(output: str) -> str:
    """The output with every score written as ``n.5`` (a real answer style where a cut after ``n`` misleads)."""
    return _SCORE_RE.sub(lambda m: f"{m.group(1)}{min(int(m.group(2)), 4)}.5", output)


def test_truncated_prefixes_agree_with_the_full_answer(outputs) -> None:
    """Every prefix ending at a digit (and every 25th character): scores None or the full answer's."""
    checked, bad = _prefix_disagreements(outputs + [_decimal(o) for o in outputs], 60)
    assert checked > 20_000 and not bad, bad[:5]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_truncated_prefix_agrees_with_the_full_answer(outputs) -> None:
    """Every prefix of every real output (~400k), and of its decimal rewrite."""
    checked, bad = _prefix_disagreements(outputs + [_decimal(o) for o in outputs], 1)
    assert not bad, bad[:5]
