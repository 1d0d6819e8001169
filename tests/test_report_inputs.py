"""aigve.report.inputs and provenance: score files, join, bad files, disclaimers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aigve.annotations import Annotation
from aigve.errors import InputError
from aigve.report.inputs import default_names, join, load_scores, na_value, parse_system_arg
from aigve.report.provenance import disclaimer_for


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_results_jsonl_canonicalises_keys_and_keeps_errors(tmp_path):
    path = _jsonl(tmp_path / "results.jsonl", [
        {"id": "a", "video": "/v/a.mp4", "scores": {"element_presentence": 4, "physics": None},
         "comments": {"element_presentence": "all there"}, "error": None, "backend": {"name": "macs", "model": "x"}},
        {"id": "b", "video": "/v/b.mp4", "scores": {"physics": None}, "error": {"message": "cannot decode", "type": "X"}},
    ])
    sf = load_scores(path)
    assert sf.name == tmp_path.name  # "results" is generic: the folder names the system
    a, b = sf.records
    assert a.scores == {"element_presence": 4.0} and a.comments == {"element_presence": "all there"}
    assert b.error == "cannot decode" and b.scores == {}
    assert sf.n_errors == 1 and sf.aspects == ["element_presence"]
    assert sf.backends == ["macs x"] and sf.disclaimer is None


def test_resumed_run_keeps_the_later_record(tmp_path):
    path = _jsonl(tmp_path / "r.jsonl", [
        {"id": "a", "scores": {}, "error": {"message": "boom"}},
        {"id": "a", "scores": {"physics": 3}, "error": None},
    ])
    (rec,) = load_scores(path).records
    assert rec.scores == {"physics": 3.0} and rec.error is None


@pytest.mark.parametrize("records,row,words", [
    ([{"id": "a", "scores": {"physics": 3}}, {"id": "a", "scores": {"physics": 4}}], 2, "duplicate id 'a'"),
    ([{"id": "a", "scores": {"physics": "high"}}], 1, "not a number"),
    ([{"id": "a", "scores": {"physics": True}}], 1, "boolean"),
    ([{"scores": {"physics": 3}}], 1, "no id or video"),
])
def test_bad_jsonl_names_file_and_row(tmp_path, records, row, words):
    path = _jsonl(tmp_path / "bad.jsonl", records)
    with pytest.raises(InputError, match=words) as info:
        load_scores(path)
    assert info.value.row == row and info.value.path == str(path)
    assert str(path) in str(info.value) and f"row {row}" in str(info.value)


def test_cut_off_last_line_is_skipped_and_counted(tmp_path):
    path = _jsonl(tmp_path / "r.jsonl", [{"id": "a", "scores": {"physics": 3}}, {"id": "b", "scores": {"physics": 4}}])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"id": "c", "scores": {"phys')  # a run killed mid-write
    sf = load_scores(path)
    assert [r.id for r in sf.records] == ["a", "b"] and [r.row for r in sf.records] == [1, 2]
    assert sf.skipped_lines == [3]
    assert load_scores(_jsonl(tmp_path / "whole.jsonl", [{"id": "a", "scores": {"physics": 3}}])).skipped_lines == []


def test_only_line_cut_off_says_so(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a", "sco', encoding="utf-8")
    with pytest.raises(InputError, match="no records found.*incomplete"):
        load_scores(path)


def test_bad_line_in_the_middle_is_an_error_not_skipped(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a", "scores": {"physics": 3}}\n{"id": "b", "sco\n{"id": "c", "scores": {}}\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON") as info:
        load_scores(path)
    assert info.value.row == 2 and str(path) in str(info.value) and "row 2" in str(info.value)


def test_csv_scores_and_errors(tmp_path):
    good = tmp_path / "sys.csv"
    good.write_text("id,Technical Quality,element_presentence,category\nx1,4,5,animal\nx2,,3,city\n")
    sf = load_scores(good)
    assert sf.name == "sys"
    assert [r.scores for r in sf.records] == [{"technical_quality": 4.0, "element_presence": 5.0},
                                              {"element_presence": 3.0}]
    assert sf.records[0].extra["category"] == "animal" and sf.records[1].row == 3
    cases = {
        "noid.csv": ("physics,overall\n3,4\n", 1, "missing an id column"),
        "noaspect.csv": ("id,foo\na,1\n", 1, "no aspect score columns"),
        "dup.csv": ("id,physics\na,3\nb,4\na,5\n", 4, "duplicate id 'a'"),
        "text.csv": ("id,physics\na,3\nb,good\n", 3, "not a number: 'good'"),
    }
    for name, (text, row, words) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError, match=words) as info:
            load_scores(path)
        assert info.value.row == row and str(path) in str(info.value)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_scores(tmp_path / "nope.jsonl")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="unknown score file type"):
        load_scores(tmp_path / "x.txt")


def test_raw_outputs_are_parsed(tmp_path):
    answer = {"physics": {"comment": "fine", "score": 4}, "element_presentence": {"comment": "ok", "score": 5}}
    path = _jsonl(tmp_path / "raw.jsonl", [{"video_name": "gen_1", "output": json.dumps(answer)}])
    try:
        sf = load_scores(path)
    except NotImplementedError:
        pytest.skip("aigve.parsing.parse_response not implemented yet")
    assert sf.records[0].id == "gen_1"
    assert sf.records[0].scores == {"physics": 4.0, "element_presence": 5.0}
    assert sf.records[0].comments["physics"] == "fine"


def test_json_list_file(tmp_path):
    path = tmp_path / "scores.json"
    path.write_text(json.dumps([{"id": "a", "physics": 3}, {"video": "dir/b.mp4", "physics": 5}]))
    sf = load_scores(path)
    assert [(r.id, r.scores) for r in sf.records] == [("a", {"physics": 3.0}), ("b", {"physics": 5.0})]


def test_join_on_id_or_video_stem_lists_unmatched_both_ways(tmp_path):
    path = _jsonl(tmp_path / "s.jsonl", [
        {"id": "run-1", "video": "/data/clip_a.mp4", "scores": {"physics": 3}},  # matches by video stem
        {"id": "clip_b", "scores": {"physics": 4}},  # matches by id
        {"id": "stray", "scores": {"physics": 1}},
    ])
    anns = [Annotation("clip_a", "/other/clip_a.mp4", None, {"physics": 3}),
            Annotation("clip_b", None, None, {"physics": 5}),
            Annotation("clip_c", None, None, {"physics": 1})]
    joined = join(load_scores(path), anns)
    assert [(a.id, r.id) for a, r in joined.pairs] == [("clip_a", "run-1"), ("clip_b", "clip_b")]
    assert joined.unmatched_scores == ["stray"]
    assert joined.unmatched_human == ["clip_c"]


def test_names_and_zero_as_na(tmp_path):
    assert parse_system_arg("mine=runs/a.jsonl") == ("mine", Path("runs/a.jsonl"))
    assert parse_system_arg("runs/a.jsonl") == (None, Path("runs/a.jsonl"))
    assert default_names([Path("a/results.jsonl"), Path("b/results.jsonl"), Path("x/sys.csv"), Path("y/sys.csv")]) \
        == ["a", "b", "sys", "sys-2"]
    assert na_value("action_quality", 0, True) is None
    assert na_value("action_quality", 0, False) == 0
    assert na_value("physics", 0, True) == 0


def test_disclaimers(tmp_path):
    assert disclaimer_for([{"name": "macs", "model": "xiaoliux/AIGVE-MACS"}]) is None
    assert "fake" in disclaimer_for([{"name": "fake", "model": None}])
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "aigve_tiny.json").write_text("{}")
    text = disclaimer_for([{"name": "macs", "model": str(tiny)}, {"name": "macs", "model": str(tiny)}])
    assert "NOT A REAL EVALUATION" in text and "tiny random-weight" in text
    flagged = tmp_path / "flagged"
    flagged.mkdir()
    (flagged / "config.json").write_text(json.dumps({"aigve_tiny": True}))
    assert disclaimer_for([{"name": "macs", "model": str(flagged)}]) is not None
    assert disclaimer_for([None, {}]) is None


def test_tiny_checkpoint_marker_is_recognised(tmp_path):
    """The marker literal here must match aigve.testing.tiny (kept literal so reports need no torch)."""
    tiny = pytest.importorskip("aigve.testing.tiny")
    from aigve.report.provenance import TINY_MARKER

    assert tiny.MARKER == TINY_MARKER
