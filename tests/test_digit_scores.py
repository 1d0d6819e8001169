"""Expected scores from digit logits: hand-computed values, locating score digits in real answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from aigve.aspects import ASPECT_KEYS, ASPECTS, canonical_key
from aigve.backends.digit_scores import (
    digit_mass,
    digit_token_ids,
    expected_digit_score,
    locate_score_digits,
    read_expected_scores,
    token_index_at_char,
)
from aigve.errors import ResponseParseError
from aigve.parsing import parse_response
from aigve.prompt import format_answer


def test_expected_score_by_hand():
    # p(0..5) = .1 .1 .1 .2 .3 .2 -> expected 0*.1 + 1*.1 + 2*.1 + 3*.2 + 4*.3 + 5*.2 = 3.1, top p = .3
    expected, confidence = expected_digit_score(np.log([0.1, 0.1, 0.1, 0.2, 0.3, 0.2]), range(6))
    assert expected == pytest.approx(3.1)
    assert confidence == pytest.approx(0.3)


def test_expected_score_reads_digit_ids_from_a_full_vocabulary_row():
    vocab = np.full(12, 7.0)  # other tokens carry lots of mass; only the digits' ratios matter
    digit_ids = [9, 3, 4, 11, 0, 6]  # token ids of "0".."5", deliberately unordered
    vocab[digit_ids] = np.log([0.1, 0.1, 0.1, 0.2, 0.3, 0.2]) + 42.0  # a shift changes nothing
    expected, confidence = expected_digit_score(vocab, digit_ids)
    assert expected == pytest.approx(3.1)
    assert confidence == pytest.approx(0.3)


def test_expected_score_with_masked_digits():
    # only 4 and 5 possible, 1:3 odds -> 4 * .25 + 5 * .75 = 4.75, confidence .75
    logits = [-math.inf, -math.inf, -math.inf, -math.inf, 0.0, math.log(3)]
    assert expected_digit_score(logits, range(6)) == pytest.approx((4.75, 0.75))
    with pytest.raises(ValueError, match="-inf"):
        expected_digit_score([-math.inf] * 6, range(6))
    with pytest.raises(ValueError, match="one token id per score"):
        expected_digit_score([0.0] * 6, range(5))


def test_digit_mass_by_hand():
    # full vocab logits: digits 0 each (6 tokens) + 2 tokens of log(3): Z = 6 + 6 = 12 -> mass = 6/12
    lse = math.log(6 * 1 + 2 * 3)
    assert digit_mass(np.zeros(6), lse) == pytest.approx(0.5)


def test_locates_every_score_of_a_real_answer(macs_outputs):
    records = [json.loads(line) for line in macs_outputs.read_text().splitlines()[:20]]
    for record in records:
        text = record["output"]
        answer = json.loads(text)
        found = locate_score_digits(text)
        wanted = {canonical_key(k): v["score"] for k, v in answer.items()}
        assert set(found) == set(wanted) == set(ASPECT_KEYS)
        for key, pos in found.items():
            assert int(text[pos]) == wanted[key]


@pytest.mark.parametrize("released", [True, False])
def test_locates_both_key_spellings(released):
    text = format_answer({a.key: i % 6 for i, a in enumerate(ASPECTS)}, {a.key: "ok" for a in ASPECTS},
                         released_keys=released)
    found = locate_score_digits(text)
    assert {k: int(text[p]) for k, p in found.items()} == {a.key: i % 6 for i, a in enumerate(ASPECTS)}


def test_locate_edge_cases():
    text = ('{"dynamic": 3, "physics": {"comment": "says \\"score\\": 1 here", "score": 4}, '
            '"overall": {"score": 10}, "consistency": {"score": "2"}, "element_quality": {"score": 4.5}, '
            '"action_quality": {"comment": "no score"}, "dynamic": {"score": 5}}')
    found = locate_score_digits(text)
    # "dynamic" twice: the first occurrence with a score decides, as in the parser (which flags the duplicate)
    assert {k: text[p] for k, p in found.items()} == {"dynamic": "3", "physics": "4", "consistency": "2"}
    assert parse_response(text).scores["dynamic"] == 3
    assert locate_score_digits("not json at all") == {}
    assert locate_score_digits('{"technical_quality": {"comment": "cut off mid') == {}


@pytest.mark.parametrize("text", [
    # an echoed example before the answer: the parser reads the answer block (the last of equal rank)
    'Format: {"dynamic": {"score": 1}, "physics": {"score": 1}}\nAnswer: {"dynamic": {"score": 4}, '
    '"physics": {"score": 2}}',
    # a fuller block wins over a later partial one
    '{"dynamic": {"score": 4}, "physics": {"score": 2}, "overall": {"score": 3}} and {"dynamic": {"score": 0}}',
    # a key first written without a score, then with one
    '{"physics": {"comment": "thinking"}, "dynamic": 2, "physics": {"comment": "ok", "score": 5}}',
    # fenced answer after prose that mentions a score
    'I would say "dynamic": 1 at first.\n```json\n{"dynamic": {"score": 3}, "overall": {"score": 4}}\n```',
    # comments before scores, comments starting with a digit
    '{"comments": {"physics": "3 balls fall", "overall": "5 stars"}, "scores": {"physics": 4, "overall": 2}}',
    # a first occurrence whose score the parser cannot read, then a readable one
    '{"physics": {"score": "n/a"}, "physics": {"score": 3}, "dynamic": {"score": 2}}',
    '{"physics": "3D effect fine", "physics": 2, "overall": {"score": 1}}',
    # a comment that repeats the score's digit before the score
    '{"physics": {"comment": "score 3 of 5: the 3 balls fall", "score": 3}}',
])
def test_located_digits_are_the_parsed_scores(text):
    """Expected scores must be read at the very digit the parser reports, whatever the answer's shape."""
    found = locate_score_digits(text)
    parsed = {k: v for k, v in parse_response(text).scores.items() if v is not None}
    assert found and {k: int(text[p]) for k, p in found.items()} == parsed


def test_a_score_written_as_a_word_has_no_digit_to_read():
    text = '{"physics": {"score": "four"}, "dynamic": {"score": 2}}'
    assert parse_response(text).scores["physics"] is None  # a word is not a score (issue 19); no digit either
    assert set(locate_score_digits(text)) == {"dynamic"}


def test_a_cut_off_string_digit_is_not_located():
    text = '{"physics": {"score": 4}, "dynamic": "3'
    assert parse_response(text).scores["dynamic"] is None
    assert set(locate_score_digits(text)) == {"physics"}


def test_located_digits_match_the_parser_on_random_answers():
    """Property: whatever the shape, a located digit is the parsed score, and rewriting it changes the parse."""
    import random

    rng = random.Random(0)
    keys = [a.key for a in ASPECTS]
    shapes = [
        lambda k, s, c: f'"{k}": {{"comment": "{c}", "score": {s}}}',
        lambda k, s, c: f'"{k}": {{"score": {s}, "comment": "{c}"}}',
        lambda k, s, c: f'"{k}": {s}',
        lambda k, s, c: f'"{k}": "{s} - {c}"',
        lambda k, s, c: f'"{k}": {{"comment": "{c}"}}',
        lambda k, s, c: f'"{k}": {{"score": "{s}/5"}}',
    ]
    checked = 0
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(1, 12)):
            comment = rng.choice(["ok", "3 balls", "score 2", "5 stars, 4 legs", "fine"])
            parts.append(rng.choice(shapes)(rng.choice(keys), rng.randint(0, 5), comment))
        text = "{" + ", ".join(parts) + "}"
        if rng.random() < 0.3:  # an echoed example first
            text = '{"physics": {"score": 1}} then ' + text
        try:
            parsed = parse_response(text).scores
        except ResponseParseError:
            assert locate_score_digits(text) == {}
            continue
        for key, pos in locate_score_digits(text).items():
            assert int(text[pos]) == parsed[key], (text, key)
            other = (parsed[key] + 1) % 6
            assert parse_response(text[:pos] + str(other) + text[pos + 1:]).scores[key] == other
            checked += 1
    assert checked > 500


def test_located_digits_match_the_parser_on_every_real_answer(macs_outputs):
    for line in macs_outputs.read_text().splitlines():
        text = json.loads(line)["output"]
        found = locate_score_digits(text)
        assert {k: int(text[p]) for k, p in found.items()} == parse_response(text).scores


def test_token_index_at_char():
    tokens = ["ab", "c", "de"]

    def decode(k):
        return "".join(tokens[:k])

    assert [token_index_at_char(decode, 3, i) for i in range(6)] == [0, 0, 1, 2, 2, None]
    assert token_index_at_char(decode, 0, 0) is None


def test_read_expected_scores_with_the_tiny_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    digit_ids = digit_token_ids(tok)
    scores = {a.key: (i * 2) % 6 for i, a in enumerate(ASPECTS)}
    text = format_answer(scores, {a.key: "Sharp; calm waves." for a in ASPECTS})
    ids = tok.encode(text, add_special_tokens=False)
    steps = [i for i, t in enumerate(ids) if t in digit_ids]  # the nine score digits, in aspect order
    assert len(steps) == 9
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(ids), 6))
    logits[steps[4]] = np.log([0.1, 0.1, 0.1, 0.2, 0.3, 0.2])  # element_presence: hand value 3.1 / .3

    def decode(k):
        return tok.decode(ids[:k], skip_special_tokens=True)

    expected, confidence, mass = read_expected_scores(decode, ids, digit_ids, logits, np.zeros(len(ids)))
    assert set(expected) == set(ASPECT_KEYS)
    assert expected["element_presence"] == pytest.approx(3.1)
    assert confidence["element_presence"] == pytest.approx(0.3)
    for key, step in zip(ASPECT_KEYS, steps, strict=True):
        assert expected[key] == pytest.approx(expected_digit_score(logits[step], range(6))[0])
        assert mass[key] == pytest.approx(np.exp(logits[step]).sum())


def test_read_expected_scores_skips_digits_that_are_not_the_generated_token():
    text = '{"dynamic": {"score": 3}}'
    ids = list(range(len(text)))  # one "token" per character, none of them the digit id 99

    def decode(k):
        return text[:k]

    expected, _, _ = read_expected_scores(decode, ids, [90, 91, 92, 99, 94, 95], np.zeros((len(ids), 6)))
    assert expected == {}
    ids[text.index("3")] = 99
    expected, _, _ = read_expected_scores(decode, ids, [90, 91, 92, 99, 94, 95], np.zeros((len(ids), 6)))
    assert expected == {"dynamic": pytest.approx(2.5)}


def test_digit_token_ids_need_single_tokens():
    class Chars:
        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text] + ([0] if text == "3" else [])

    assert digit_token_ids(Chars()) is None


def test_locating_costs_a_few_parses_even_in_a_long_answer_full_of_digits(monkeypatch):
    """A judge looping until max_new_tokens writes hundreds of digits; locating must not parse once per
    digit (it runs after every generated answer). Counted in parses, not timed."""
    import aigve.parsing

    calls = []
    real = aigve.parsing.parse_response
    monkeypatch.setattr(aigve.parsing, "parse_response", lambda text: calls.append(1) or real(text))
    body = ", ".join(f"'{k}': {{'comment': 'frame{' 5' * 150}', 'score': 5}}" for k in ASPECT_KEYS)
    text = "{" + body + "}"  # Python quotes: no quick hints, 1350 candidate 5s
    found = locate_score_digits(text)
    assert {k: text[p] for k, p in found.items()} == dict.fromkeys(ASPECT_KEYS, "5")
    assert len(calls) <= 1 + len(ASPECT_KEYS) * 14, len(calls)  # ~2 + log2(1350) per aspect; was ~1 per digit
