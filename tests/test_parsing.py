"""parse_response: hand-written malformed answers, all 149 real AIGVE-MACS outputs, truncations and fuzzing."""

from __future__ import annotations

import json
import random
import re
import string

import pytest

from aigve.aspects import ASPECT_KEYS, canonical_key
from aigve.errors import ResponseParseError
from aigve.parsing import ParsedResponse, extract_json_block, parse_response, parse_score_value

FULL = {
    "technical_quality": 4, "dynamic": 3, "consistency": 5, "physics": 2, "element_presence": 5,
    "element_quality": 4, "action_presence": 1, "action_quality": 0, "overall": 3,
}


def _released_json(scores: dict[str, int] = FULL, indent: int | None = 4) -> str:
    """An answer shaped like the released model's: released key spellings, comment before score."""
    released = {"element_presence": "element_presentence", "action_presence": "action_presentence"}
    body = {released.get(k, k): {"comment": f"About {k}.", "score": v} for k, v in scores.items()}
    return json.dumps(body, indent=indent)


def _given(parsed: ParsedResponse) -> dict[str, int]:
    return {k: v for k, v in parsed.scores.items() if v is not None}


# --------------------------------------------------------------------------- hand-written malformed answers

CASES = [
    # (id, text, expected non-None scores, flags that must be present, expected comments (subset))
    ("clean_released", _released_json(), FULL, [], {"physics": "About physics."}),
    ("code_fence", "```json\n" + _released_json() + "\n```", FULL, ["code_fence"], {}),
    ("fence_no_lang_with_prose", "Sure! Here is my evaluation:\n```\n" + _released_json() + "\n```\nHope it helps.",
     FULL, ["code_fence", "extra_text"], {}),
    ("prose_around_no_fence", "The evaluation:\n" + _released_json(indent=None) + "\nDone.", FULL, ["extra_text"], {}),
    ("example_block_then_answer",
     'Format: {"technical_quality": {"comment": "...", "score": 0}}\nAnswer: ' + _released_json(indent=None),
     FULL, ["extra_text"], {"technical_quality": "About technical_quality."}),
    ("non_aspect_block_first", '{"video": "a.mp4", "ok": true}\n{"physics": {"comment": "fine", "score": 4}}',
     {"physics": 4}, ["extra_text", "missing:overall"], {"physics": "fine"}),
    ("python_dict", "{'physics': {'comment': \"The ball's bounce looks right\", 'score': 4}, "
     "'overall': {'comment': 'ok', 'score': 3, 'final': True, 'note': None}}",
     {"physics": 4, "overall": 3}, ["python_quotes"], {"physics": "The ball's bounce looks right"}),
    ("single_quotes_with_apostrophe", "{'physics': {'comment': 'The ball's path isn't right', 'score': 2}}",
     {"physics": 2}, ["python_quotes", "inner_quotes"], {"physics": "The ball's path isn't right"}),
    ("trailing_commas", '{"physics": {"comment": "a", "score": 4,}, "dynamic": {"score": 1,},}',
     {"physics": 4, "dynamic": 1}, ["trailing_comma"], {"physics": "a", "dynamic": None}),
    ("unquoted_keys", '{physics: {comment: "smooth", score: 5}, overall: {score: 4}}',
     {"physics": 5, "overall": 4}, ["unquoted_keys"], {"physics": "smooth"}),
    ("comments_in_json", '{\n  // the physics aspect\n  "physics": {"comment": "ok", /* inline */ "score": 3},\n'
     '  # python style\n  "overall": {"score": 3}\n}', {"physics": 3, "overall": 3}, ["comments"], {}),
    ("smart_quotes", "{\u201cphysics\u201d: {\u201ccomment\u201d: \u201cThe sign says \u201chi\u201d\u201d, "
     "\u201cscore\u201d: 4}}", {"physics": 4}, ["smart_quotes"], {"physics": "The sign says \u201chi\u201d"}),
    ("escaped_and_raw_newlines", '{"physics": {"comment": "line one\\nline two", "score": 4}, '
     '"dynamic": {"comment": "raw\nnewline", "score": 2}}', {"physics": 4, "dynamic": 2}, [],
     {"physics": "line one\nline two", "dynamic": "raw\nnewline"}),
    ("unescaped_inner_quotes", '{"physics": {"comment": "The sign reads "STOP", then the car halts", "score": 4},'
     ' "overall": {"comment": "He says "hi"", "score": 3}}', {"physics": 4, "overall": 3}, ["inner_quotes"],
     {"physics": 'The sign reads "STOP", then the car halts', "overall": 'He says "hi"'}),
    ("label_keys", '{"Technical Quality": {"score": 4}, "Element Presence": {"score": 5}}',
     {"technical_quality": 4, "element_presence": 5},
     ["renamed:Technical Quality->technical_quality", "renamed:Element Presence->element_presence"], {}),
    ("misspelled_key", '{"techincal_quality": {"comment": "sharp", "score": 5}}', {"technical_quality": 5},
     ["renamed:techincal_quality->technical_quality"], {"technical_quality": "sharp"}),
    ("score_before_comment", '{"physics": {"score": 1, "comment": "floats upward"}}', {"physics": 1}, [],
     {"physics": "floats upward"}),
    ("capitalised_fields", '{"physics": {"Score": 3, "Reason": "ok"}}', {"physics": 3}, [], {"physics": "ok"}),
    ("flat_ints", '{"technical_quality": 4, "dynamic": 2, "overall": 3}',
     {"technical_quality": 4, "dynamic": 2, "overall": 3}, ["missing:physics"], {"physics": None}),
    ("scores_comments_layout", '{"scores": {"physics": 3, "overall": 4}, "comments": {"physics": " ok ", '
     '"overall": "good"}}', {"physics": 3, "overall": 4}, [], {"physics": "ok", "overall": "good"}),
    ("list_of_records", '[{"aspect": "physics", "score": 3, "comment": "x"}, '
     '{"name": "Action Presence", "rating": "5/5", "reason": "runs"}]', {"physics": 3, "action_presence": 5},
     ["renamed:Action Presence->action_presence"], {"physics": "x", "action_presence": "runs"}),
    ("list_of_single_maps", '[{"physics": 2}, {"overall": {"score": 3}}]', {"physics": 2, "overall": 3}, [], {}),
    ("fraction_strings", '{"physics": {"score": "4/5"}, "dynamic": {"score": "3 out of 5"}, "overall": "8/10"}',
     {"physics": 4, "dynamic": 3, "overall": 4}, ["rescaled:overall"], {}),
    ("float_scores", '{"physics": {"score": "4.0"}, "dynamic": {"score": 4.6}, "overall": {"score": 2.5}, '
     '"consistency": {"score": 3.2}}', {"physics": 4, "dynamic": 5, "overall": 3, "consistency": 3},
     ["rounded:dynamic", "rounded:overall", "rounded:consistency"], {}),
    ("out_of_range", '{"physics": {"score": 7}, "dynamic": {"score": -1}, "overall": {"score": 10}}',
     {"physics": 5, "dynamic": 0, "overall": 5}, ["clamped:physics", "clamped:dynamic", "clamped:overall"], {}),
    ("non_numeric", '{"physics": {"comment": "unclear", "score": "N/A"}, "dynamic": {"score": null}, '
     '"overall": {"score": 3}, "consistency": {"score": true}}', {"overall": 3},
     ["bad_score:physics", "bad_score:dynamic", "bad_score:consistency"], {"physics": "unclear"}),
    ("score_with_comment_string", '{"physics": "4 - the ball falls naturally", "overall": "3"}',
     {"physics": 4, "overall": 3}, [], {"physics": "the ball falls naturally", "overall": None}),
    ("line_format", "Physics: 4 - the ball falls naturally\n**Overall** (3/5): decent\n1. Dynamic - 2\n"
     "Technical quality = 5", {"physics": 4, "overall": 3, "dynamic": 2, "technical_quality": 5},
     ["line_format", "missing:consistency"], {"physics": "the ball falls naturally", "overall": "decent"}),
    ("markdown_sections", "## Physics\nComment: the ball floats\nScore: 2\n\n## Overall\nScore: 3/5\n"
     "Comment: weak", {"physics": 2, "overall": 3}, ["line_format"],
     {"physics": "the ball floats", "overall": "weak"}),
    ("double_escaped", '{\\"physics\\": {\\"comment\\": \\"ok\\\\nthen\\", \\"score\\": 4}}', {"physics": 4},
     ["double_escaped"], {"physics": "ok\nthen"}),
    ("json_string_wrapped", json.dumps('{"physics": {"comment": "ok", "score": 4}}'), {"physics": 4},
     ["double_escaped"], {"physics": "ok"}),
    ("wrapper_object", '{"evaluation": {"physics": {"score": 2}, "overall": {"score": 2}}, "model": "x"}',
     {"physics": 2, "overall": 2}, [], {}),
    ("duplicate_key", '{"physics": {"comment": "no score"}, "physics": {"comment": "first", "score": 4}, '
     '"physics": {"comment": "second", "score": 1}}', {"physics": 4}, ["duplicate:physics"], {"physics": "first"}),
    ("missing_commas", '{"physics": {"comment": "a" "score": 4}\n "overall": {"score": 3}}',
     {"physics": 4, "overall": 3}, ["missing_comma"], {"physics": "a"}),
    ("mismatched_bracket", '{"physics": {"comment": "a", "score": 4], "overall": {"score": 3}}',
     {"physics": 4, "overall": 3}, ["mismatched_bracket"], {}),
    ("unquoted_values", "{physics: {comment: smooth motion, score: 4 out of 5}}", {"physics": 4},
     ["unquoted_values", "unquoted_keys"], {"physics": "smooth motion"}),
    ("truncated_mid_comment", _released_json()[: _released_json().index("About physics") + 3],
     {"technical_quality": 4, "dynamic": 3, "consistency": 5}, ["truncated", "missing:physics"], {"physics": None}),
    ("truncated_after_score", '{"physics": {"comment": "fine", "score": 3, ', {"physics": 3}, ["truncated"],
     {"physics": "fine"}),
    ("truncated_at_score_digit", '{"dynamic": 2, "physics": {"comment": "fine", "score": 3', {"dynamic": 2}, ["truncated", "cut_score:physics"],
     {"physics": "fine"}),
    ("truncated_score_first_comment_cut", '{"physics": {"score": 3, "comment": "the ball bou', {"physics": 3},
     ["truncated"], {"physics": None}),
    ("truncated_after_colon", '{"physics": {"score": 2}, "overall": {"comment": "x", "score": ',
     {"physics": 2}, ["truncated", "missing:overall"], {}),
    ("unicode_comment", '{"physics": {"comment": "  La balle tombe naturellement \u2014 \u00e9t\u00e9 \U0001f3c0 ",'
     ' "score": 5}}', {"physics": 5}, [], {"physics": "La balle tombe naturellement \u2014 \u00e9t\u00e9 \U0001f3c0"}),
    ("numeric_and_list_comments", '{"physics": {"comment": 4, "score": 4}, "dynamic": {"comment": ["fast", "smooth"],'
     ' "score": 5}, "overall": {"comment": true, "score": 3}}', {"physics": 4, "dynamic": 5, "overall": 3}, [],
     {"physics": "4", "dynamic": "fast smooth", "overall": None}),
    ("unicode_escapes", '{"physics": {"comment": "a\\u2014b \\ud83c\\udfc0", "score": 5}}', {"physics": 5}, [],
     {"physics": "a\u2014b \U0001f3c0"}),
]


@pytest.mark.parametrize(("text", "scores", "flags", "comments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_answers(text: str, scores: dict, flags: list, comments: dict) -> None:
    parsed = parse_response(text)
    assert _given(parsed) == scores
    assert set(parsed.scores) == set(parsed.comments) == set(ASPECT_KEYS)
    for flag in flags:
        assert flag in parsed.flags, (flag, parsed.flags)
    if not flags:
        assert not any(f.split(":")[0] in {"renamed", "truncated", "bad_score"} for f in parsed.flags), parsed.flags
    for key, comment in comments.items():
        assert parsed.comments[key] == comment
    for key in ASPECT_KEYS:
        expected_flag = any(f"{f}:{key}" in parsed.flags for f in ("missing", "bad_score", "cut_score"))
        assert expected_flag == (parsed.scores[key] is None), key  # never invented, always accounted for
    assert len(parsed.flags) == len(set(parsed.flags))


def test_clean_answer_has_no_flags_and_released_spellings_are_not_renamed() -> None:
    parsed = parse_response(_released_json())
    assert parsed.flags == [] and not parsed.repaired and parsed.missing == []
    assert parsed.scores == FULL
    assert parsed.to_dict()["scores"] == FULL


def test_released_spelling_is_not_flagged_but_other_spellings_are() -> None:
    assert parse_response('{"element_presentence": 3}').flags == [f"missing:{k}" for k in ASPECT_KEYS
                                                                    if k != "element_presence"]
    flags = parse_response('{"Action Presentence": 3}').flags
    assert "renamed:Action Presentence->action_presence" in flags


def test_multiple_blocks_prefers_the_one_with_most_aspects() -> None:
    partial = '{"physics": {"score": 1}}'
    text = f"Draft: {partial}\nFinal: {_released_json(indent=None)}\nAlso: {partial}"
    assert parse_response(text).scores == FULL


def test_echoed_prompt_example_loses_ties_to_the_answer() -> None:
    from aigve.prompt import build_instruction

    answer = '{"technical_quality": {"comment": "sharp", "score": 4}, "dynamic": {"comment": "sl'
    parsed = parse_response("user\n" + build_instruction("a red ball") + "\nassistant\n" + answer)
    assert _given(parsed) == {"technical_quality": 4}  # not the instruction's example score of 0
    assert parsed.comments["technical_quality"] == "sharp"
    assert {"extra_text", "truncated"} <= set(parsed.flags)


@pytest.mark.parametrize("text", ["", "   \n", "I cannot evaluate this video.", '{"video": "a.mp4"}', "[1, 2, 3]",
                                  '{"physics": {"comment": "cut before the sco', "```json\n{\n```", "{{{{"])
def test_nothing_salvageable_raises_with_raw_text(text: str) -> None:
    with pytest.raises(ResponseParseError) as info:
        parse_response(text)
    assert info.value.raw_text == text
    assert "no aspect score" in str(info.value)


def test_non_string_input_raises_parse_error() -> None:
    with pytest.raises(ResponseParseError):
        parse_response(None)  # type: ignore[arg-type]
    assert parse_response(b'{"physics": 3}').scores["physics"] == 3  # type: ignore[arg-type]


def test_never_evaluates_text() -> None:
    text = "{'physics': __import__('os').system('echo pwned'), 'overall': 3}"
    parsed = parse_response(text)
    assert parsed.scores["overall"] == 3 and parsed.scores["physics"] is None
    assert "bad_score:physics" in parsed.flags


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (4, (4, [])), (0, (0, [])), (5.0, (5, [])), (4.5, (5, ["rounded"])), (2.5, (3, ["rounded"])),
        (4.49, (4, ["rounded"])), (7, (5, ["clamped"])), (-2, (0, ["clamped"])), (5.6, (5, ["rounded", "clamped"])),
        ("4", (4, [])), (" 3 ", (3, [])), ("4.0", (4, [])), ("4/5", (4, [])), ("4 / 5", (4, [])),
        ("4 out of 5", (4, [])), ("Score: 2", (2, [])), ("8/10", (4, ["rescaled"])), ("75/100", (4, ["rescaled"])),
        ("four", (None, ["bad_score"])), ("3 (fair)", (3, [])), ("3D", (None, ["bad_score"])), ("N/A", (None, ["bad_score"])),
        ("", (None, ["bad_score"])), ("4/0", (None, ["bad_score"])), (None, (None, ["bad_score"])),
        (True, (None, ["bad_score"])), (float("nan"), (None, ["bad_score"])), (float("inf"), (None, ["bad_score"])),
        ([4], (None, ["bad_score"])), ({"score": 4}, (None, ["bad_score"])),
    ],
)
def test_parse_score_value(value: object, expected: tuple) -> None:
    assert parse_score_value(value) == expected


def test_extract_json_block() -> None:
    body = '{"physics": {"score": 3}}'
    assert extract_json_block(f"Here:\n```json\n{body}\n```\nbye") == body
    assert extract_json_block(f'{{"x": 1}} then {body} end') == body
    assert extract_json_block("no json here") is None


def test_lazy_export() -> None:
    import aigve

    assert aigve.parse_response is parse_response
    assert aigve.ParsedResponse is ParsedResponse


# --------------------------------------------------------------------------- the released model's real outputs


@pytest.fixture(scope="module")
def real_rows(macs_outputs) -> list[dict]:
    rows = [json.loads(line) for line in macs_outputs.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == 149
    return rows


def test_all_real_outputs_parse_cleanly(real_rows: list[dict]) -> None:
    for row in real_rows:
        raw = json.loads(row["output"])
        parsed = parse_response(row["output"])
        assert parsed.flags == [], (row["video_name"], parsed.flags)
        assert all(isinstance(parsed.scores[k], int) for k in ASPECT_KEYS)
        assert parsed.scores["element_presence"] == raw["element_presentence"]["score"]
        assert parsed.scores["action_presence"] == raw["action_presentence"]["score"]
        for key, value in raw.items():
            assert parsed.scores[canonical_key(key)] == value["score"]
            assert parsed.comments[canonical_key(key)] == value["comment"].strip()


def _score_positions(output: str) -> list[tuple[str, int]]:
    """(canonical key, index of its score digit) in the order written."""
    keys = [canonical_key(k) for k in json.loads(output)]
    positions = [m.start(1) for m in re.finditer(r'"score":\s*(\d)', output)]
    assert len(positions) == len(keys) == 9
    return list(zip(keys, positions, strict=True))


def _check_cut(output: str, cut: int) -> None:
    raw = {canonical_key(k): v["score"] for k, v in json.loads(output).items()}
    # a digit that is the last character may have gone on ("4" of "4.5"): it counts only with text after it
    complete = {k for k, pos in _score_positions(output) if pos + 1 < cut}
    text = output[:cut]
    if not complete:
        with pytest.raises(ResponseParseError):
            parse_response(text)
        return
    parsed = parse_response(text)
    assert _given(parsed) == {k: raw[k] for k in complete}, (cut, text[-60:])
    assert ("truncated" in parsed.flags) == (cut < len(output.rstrip()))
    flags = {f.replace("cut_score:", "missing:") for f in parsed.flags}
    assert {f"missing:{k}" for k in ASPECT_KEYS if k not in complete} <= flags


def test_truncated_real_outputs_salvage_exactly_the_complete_aspects(real_rows: list[dict]) -> None:
    for row in real_rows:
        output = row["output"]
        for frac in (0.05, 0.2, 0.33, 0.5, 0.61, 0.77, 0.9, 0.99):
            _check_cut(output, int(len(output) * frac))
        _check_cut(output, len(output))


def test_cuts_around_every_score_digit(real_rows: list[dict]) -> None:
    for row in real_rows[:25]:
        for _, pos in _score_positions(row["output"]):
            for cut in (pos - 3, pos, pos + 1, pos + 2):
                _check_cut(row["output"], cut)


def test_truncated_fenced_output(real_rows: list[dict]) -> None:
    output = real_rows[0]["output"]
    cut = _score_positions(output)[4][1] + 1
    parsed = parse_response("```json\n" + output[:cut])
    # cut right after the fifth digit: that one may have gone on ("4.5"), so four aspects count (issue 19)
    assert len(_given(parsed)) == 4 and {"truncated", "code_fence", "cut_score:element_presence"} <= set(parsed.flags)


# --------------------------------------------------------------------------- fuzzing

_PIECES = list('{}[]:,"\'\\/#*\n\t 0123456789.-+') + list(string.ascii_letters) + [
    "\u201c", "\u201d", "\u2018", "\u2019", "```", "true", "None", "score", "comment", "physics", "overall",
    "\\u", "\\ud83d", "NaN", "/*", "//", "4/5", "element_presentence",
]


def _assert_valid_or_parse_error(text: str) -> None:
    try:
        parsed = parse_response(text)
    except ResponseParseError as exc:
        assert exc.raw_text == text
        return
    assert set(parsed.scores) == set(ASPECT_KEYS)
    assert any(v is not None for v in parsed.scores.values())
    for value in parsed.scores.values():
        assert value is None or (type(value) is int and 0 <= value <= 5)
    for comment in parsed.comments.values():
        assert comment is None or (isinstance(comment, str) and comment == comment.strip() and comment)


@pytest.mark.timeout(60)
def test_fuzz_garbage_and_mutations_only_raise_parse_error(real_rows: list[dict]) -> None:
    rng = random.Random(1234)
    for i in range(1200):
        if i % 4 == 0:
            text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 300)))
        elif i % 4 == 1:
            output = rng.choice(real_rows)["output"]
            text = output[: rng.randint(0, len(output))]
        elif i % 4 == 2:
            chars = list(rng.choice(real_rows)["output"])
            for _ in range(rng.randint(1, 25)):
                k = rng.randrange(len(chars))
                op = rng.random()
                if op < 0.33:
                    del chars[k]
                elif op < 0.66:
                    chars.insert(k, rng.choice(_PIECES))
                else:
                    chars[k] = rng.choice(_PIECES)
            text = "".join(chars)
        else:
            text = "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(0, 200)))
        _assert_valid_or_parse_error(text)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    ["[" * 20000, "{" * 20000, '{"a":' * 5000, "[{" * 10000, '"' * 50000, "{" + ",\"x\"" * 10000,
     '{"scores":' * 900 + "1" + "}" * 900, '{"a": "' + "\\" * 50001, '{"a": "' + "\\u12" * 20000,
     "{x} " * 5000 + '{"physics": 3}', "Physics: x\n" * 5000, "/*" * 20000, "\x00" * 1000],
    ids=lambda t: f"{t[:8]!r}x{len(t)}",
)
def test_adversarial_inputs_finish(text: str) -> None:
    _assert_valid_or_parse_error(text)
