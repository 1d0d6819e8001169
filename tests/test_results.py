import json
import logging

import pytest

from aigve.errors import InputError
from aigve.results import (
    EvaluationResult,
    ResultWriter,
    compact_results,
    done_ids,
    iter_records,
    read_results,
    write_csv,
)


def _result(i, ok=True):
    r = EvaluationResult(id=f"v{i}", video=f"v{i}.mp4", prompt="p")
    if ok:
        r.scores["physics"] = 3
    else:
        r.error = {"type": "VideoDecodeError", "message": "bad", "stage": "probe"}
    return r


def test_append_flush_and_read_back(tmp_path):
    path = tmp_path / "r" / "results.jsonl"
    with ResultWriter(path) as w:
        w.write(_result(1))
        w.write(_result(2, ok=False))
        assert len(path.read_text().splitlines()) == 2  # flushed before close
    recs = list(iter_records(path))
    assert recs[0]["status"] == "partial" and recs[1]["status"] == "error"  # only physics scored: partial (issue 19)
    assert recs[0]["schema_version"] == 1 and "aigve_version" in recs[0]
    assert done_ids(path) == {"v1"} and done_ids(path, include_errors=True) == {"v1", "v2"}
    assert read_results(path)[0].scores["physics"] == 3


def test_partial_last_line_is_repaired_on_append(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultWriter(path) as w:
        w.write(_result(1))
    with open(path, "a") as fh:
        fh.write('{"id": "v2", "vid')  # crash mid-write
    assert [r["id"] for r in iter_records(path)] == ["v1"]
    skipped: list[int] = []
    assert len(list(iter_records(path, skipped=skipped))) == 1 and skipped == [2]  # reports say so
    with pytest.raises(InputError, match="row 2"):
        list(iter_records(path, strict=True))
    with ResultWriter(path) as w:
        w.write(_result(3))
    assert [r["id"] for r in iter_records(path, strict=True)] == ["v1", "v3"]


def test_cut_off_line_is_a_warning_unless_the_caller_reports_it(tmp_path, caplog):
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "v1"}\n{"id": "v2", "vid')
    with caplog.at_level(logging.DEBUG, logger="aigve.results"):
        assert len(list(iter_records(path))) == 1
        assert [r.levelno for r in caplog.records] == [logging.WARNING] and "line 2" in caplog.text
        caplog.clear()
        skipped: list[int] = []
        assert len(list(iter_records(path, skipped=skipped))) == 1 and skipped == [2]
        assert [r.levelno for r in caplog.records] == [logging.DEBUG]  # the caller's note is the one message


def test_bad_line_in_the_middle_names_file_and_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(InputError, match=r"results.jsonl, row 2"):
        list(iter_records(path))


def test_from_record_accepts_released_spellings():
    r = EvaluationResult.from_record({"id": "x", "video": "x.mp4", "prompt": "", "scores": {"element_presentence": 4}})
    assert r.scores == {"element_presence": 4}


def test_csv_has_nine_aspect_columns(tmp_path):
    recs = [_result(1).to_record(), _result(2, ok=False).to_record()]
    path = write_csv(recs, tmp_path / "results.csv")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    assert header[4:13] == ["technical_quality", "dynamic", "consistency", "physics", "element_presence",
                            "element_quality", "action_presence", "action_quality", "overall"]
    assert "error" in lines[2] and "bad" in lines[2]
    json.dumps(recs)


def test_compact_keeps_the_newest_record_per_id_in_first_seen_order(tmp_path):
    path = tmp_path / "results.jsonl"
    lines = [{"id": "a", "error": {"message": "decode"}}, {"id": "b", "n": 1}, {"note": "no id"},
             {"id": "c", "error": {"message": "oom"}}, {"id": "a", "n": 2}, {"id": "c", "error": {"message": "oom again"}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert compact_results(path) == 2
    assert list(iter_records(path)) == [{"id": "a", "n": 2}, {"id": "b", "n": 1}, {"note": "no id"},
                                        {"id": "c", "error": {"message": "oom again"}}]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl"]  # no temporary file left behind
    before = path.stat().st_mtime_ns
    assert compact_results(path) == 0 and path.stat().st_mtime_ns == before  # nothing to do: untouched
    assert compact_results(tmp_path / "missing.jsonl") == 0


def test_compact_refuses_a_corrupt_file_and_leaves_it(tmp_path):
    path = tmp_path / "results.jsonl"
    text = '{"id": "a"}\nnot json\n{"id": "a"}\n'
    path.write_text(text)
    with pytest.raises(InputError, match="row 2"):
        compact_results(path)
    assert path.read_text() == text


def test_bad_line_error_gives_the_column(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b", "video": "x\n{"id": "c"}\n')
    with pytest.raises(InputError, match=r"row 2: not valid JSON \(Unterminated string starting at column 22\)"):
        list(iter_records(path))
