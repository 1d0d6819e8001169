"""aigve.lenient_json.read_json against hand-computed readings: repairs, flags, truncation, nesting limit."""

from __future__ import annotations

import json

import pytest

from aigve.lenient_json import MAX_DEPTH, MISSING, JSONObject, NestingTooDeep, PartialNumber, PartialString, read_json


def test_strict_json_has_no_flags_and_keeps_duplicate_keys() -> None:
    text = '{"a": 1, "b": [true, null, 2.5], "a": "x"}'
    r = read_json(text)
    assert r.value == [("a", 1), ("b", [True, None, 2.5]), ("a", "x")]
    assert isinstance(r.value, JSONObject)
    assert (r.end, r.flags, r.truncated) == (len(text), [], False)


def test_starts_at_the_given_index_and_ends_after_the_value() -> None:
    r = read_json('x = {"a": 1} and more', 4)
    assert r.value == [("a", 1)] and r.end == 12 and r.flags == []


def test_trailing_commas_in_objects_and_arrays() -> None:
    text = '{"a": 1, "b": [1, 2,],}'
    r = read_json(text)
    assert r.value == [("a", 1), ("b", [1, 2])]
    assert (r.end, r.flags, r.truncated) == (len(text), ["trailing_comma"], False)


def test_single_quotes_and_python_literals() -> None:
    r = read_json("{'a': 'x', 'b': True, 'c': None, 'd': \"it's\"}")
    assert r.value == [("a", "x"), ("b", True), ("c", None), ("d", "it's")]
    assert r.flags == ["python_quotes"]


def test_unquoted_keys_and_comments() -> None:
    r = read_json('{a: 1 /* c */, // why\n b: "x"}')
    assert r.value == [("a", 1), ("b", "x")]
    assert r.flags == ["unquoted_keys", "comments"]


def test_unescaped_inner_quotes_stay_in_the_string() -> None:
    r = read_json('{"c": "He says "hi" twice", "s": 3}')
    assert r.value == [("c", 'He says "hi" twice'), ("s", 3)]
    assert r.flags == ["inner_quotes"]


def test_truncated_object_reports_which_values_were_complete() -> None:
    text = '{"physics": {"comment": "ok", "score": 4}, "overall": {"comment": "The ball bou'
    r = read_json(text)
    assert r.truncated and r.flags == ["truncated"] and r.end == len(text)
    physics, overall = r.value
    assert physics == ("physics", [("comment", "ok"), ("score", 4)])
    assert not isinstance(physics[1][0][1], PartialString)  # closed before the cut
    assert overall == ("overall", [("comment", "The ball bou")])
    assert isinstance(overall[1][0][1], PartialString)  # cut by the end of the text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1, "b": ', [("a", 1)]),  # a key whose value never started is dropped
        ('{"a": 1, "b', [("a", 1)]),  # a key cut mid-name is dropped
        ('{"a": [1, 2 ', [("a", [1, 2])]),  # an open array keeps its complete items
        ('{"a": [1, 2', [("a", [1, PartialNumber("2")])]),  # a number at the very end may go on: not a number
        ('{"score": 4', [("score", PartialNumber("4"))]),  # "4" may have been "4.5" (issue 19)
    ],
)
def test_truncation_drops_what_never_started(text: str, value: list) -> None:
    r = read_json(text)
    assert r.value == value and r.truncated and "truncated" in r.flags


def test_every_prefix_keeps_only_closed_strings_whole() -> None:
    full = {"physics": {"comment": "falls, then \"bounces\"", "score": 4}, "overall": {"comment": "ok", "score": 3}}
    text = json.dumps(full)
    originals = {"physics", "comment", "score", "overall", 'falls, then "bounces"', "ok"}

    def strings(value: object) -> list[str]:
        if isinstance(value, list):
            return [s for item in value for s in strings(item)]
        if isinstance(value, tuple):
            return [s for item in value for s in strings(item)]
        return [value] if isinstance(value, str) else []

    for cut in range(1, len(text) + 1):
        r = read_json(text[:cut])
        assert r.truncated == (cut < len(text)), cut
        for s in strings(r.value):
            assert isinstance(s, PartialString) or s in originals, (cut, s)


def test_nothing_to_read_is_missing() -> None:
    r = read_json("   ")
    assert r.value is MISSING and r.truncated


def test_over_deep_nesting_raises_with_the_stop_index() -> None:
    # value(d) is entered at index d and opens one "[" there; the check fails entering depth MAX_DEPTH + 1.
    with pytest.raises(NestingTooDeep) as info:
        read_json("[" * 100)
    assert info.value.end == MAX_DEPTH + 1
    assert isinstance(info.value, ValueError)
