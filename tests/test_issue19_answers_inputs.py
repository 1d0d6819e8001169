"""Issue 19: answers never silently shrink, scores say what they mean, every input is accounted for."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from aigve.aspects import canonical_key, normalise_aspect_name
from aigve.backends.base import BackendOutput
from aigve.backends.fake import FakeBackend
from aigve.errors import InputError, VideoDecodeError, console_safe
from aigve.evaluator import Evaluator
from aigve.parsing import parse_response
from aigve.results import EvaluationResult, iter_records, safe_cell
from aigve.run.batch import run_batch, summary_text
from aigve.runner import collect_items, read_manifest
from aigve.testing.videos import make_clip, write_video
from aigve.video import probe

# ----------------------------------------------------------------------------------------------- parser


@pytest.mark.parametrize("cut", ['{"dynamic": 2, "physics": 4', '{"dynamic": 2, "physics": {"score": 4',
                                 '{"dynamic": 2, "physics": {"comment": "ok", "score": 4.'])
def test_a_digit_at_the_end_of_cut_text_is_not_a_score(cut: str) -> None:
    parsed = parse_response(cut)  # the full answer said 4.5 (-> 5): keeping 4 would be a wrong score
    assert parsed.scores["physics"] is None and parsed.scores["dynamic"] == 2
    assert "cut_score:physics" in parsed.flags and "truncated" in parsed.flags


def test_a_closed_number_at_the_end_is_kept() -> None:
    assert parse_response('{"dynamic": 2, "physics": 4}').scores["physics"] == 4
    assert parse_response('{"dynamic": 2, "physics": 4 ').scores["physics"] == 4


@pytest.mark.parametrize("value", ['"five"', '"3-4"', '"2 or 3"', '"N/A"', '"3 to 4"', '"4, 5"', '"four"'])
def test_non_numeric_scores_are_none_and_flagged(value: str) -> None:
    parsed = parse_response(f'{{"dynamic": 2, "physics": {{"score": {value}}}}}')
    assert parsed.scores["physics"] is None and "bad_score:physics" in parsed.flags
    lines = parse_response(f"Dynamic: 2\nPhysics: {value.strip(chr(34))} - fine")
    assert lines.scores["physics"] is None


@pytest.mark.parametrize(("value", "score"), [('"4/5"', 4), ('"4.0"', 4), ("4.0", 4), ('"4 out of 5"', 4),
                                              ('"8/10"', 4), ('"3 (fair)"', 3)])
def test_documented_score_forms(value: str, score: int) -> None:
    assert parse_response(f'{{"physics": {{"score": {value}}}}}').scores["physics"] == score


@pytest.mark.parametrize("raw", ["physics_score", "score_physics", "Physics Score", "PhysicsScore", "physics",
                                 "PHYSICS_SCORE", "physics-rating"])
def test_key_spellings_handled_one_way(raw: str) -> None:
    assert normalise_aspect_name(raw) == "physics" and canonical_key(raw) == "physics"
    assert parse_response(json.dumps({raw: 3, "dynamic_score": 2})).scores["physics"] == 3


def test_other_spellings_map_to_their_aspect() -> None:
    text = json.dumps({"dynamic_score": 1, "score_consistency": 2, "element_presentence": 3, "Technical Quality": 4,
                       "Action Presence Score": 5})
    got = {k: v for k, v in parse_response(text).scores.items() if v is not None}
    assert got == {"dynamic": 1, "consistency": 2, "element_presence": 3, "technical_quality": 4,
                   "action_presence": 5}
    assert normalise_aspect_name("score") == "" and canonical_key("score") is None


def _answer() -> str:
    return json.dumps({k: {"comment": f"about {k}", "score": i % 6} for i, k in enumerate(
        ["technical_quality", "dynamic", "consistency", "physics", "element_presentence", "element_quality",
         "action_presentence", "action_quality", "overall"])}, indent=4)


@pytest.mark.parametrize("garbage", ["\x00\x01 }} ]] garbled", '{"x": [1, {"y"', "{{{", "```json\n{ }\n{\n"])
def test_every_well_formed_block_is_recovered_after_garbage(garbage: str) -> None:
    answer = _answer()
    lines = answer.splitlines()
    text = garbage + "\n".join(lines[2:])  # the first aspect's opening lines garbled away
    parsed = parse_response(text)
    got = {k: v for k, v in parsed.scores.items() if v is not None}
    assert len(got) >= 8 and "salvaged" in parsed.flags
    full = parse_response(answer).scores
    assert all(full[k] == v for k, v in got.items())


def test_an_echoed_example_before_the_answer_does_not_fill_it() -> None:
    text = ('Answer like {"physics": {"comment": "...", "score": 3}, "dynamic": {"score": 3}}.\n'
            '{"dynamic": {"comment": "moves", "score": 5}, "overall": {"score": 4}}')
    parsed = parse_response(text)
    assert parsed.scores["dynamic"] == 5 and parsed.scores["physics"] is None


# ----------------------------------------------------------------------------------------------- status


def test_a_record_with_a_judged_aspect_missing_is_partial() -> None:
    r = EvaluationResult(id="a", video="a.mp4", prompt="p")
    r.scores.update({k: 3 for k in r.scores})
    assert r.status == "ok"
    r.scores["physics"] = None
    assert r.status == "partial" and r.missing_aspects == ["physics"] and r.to_record()["status"] == "partial"
    r.judged_aspects = ["technical_quality", "dynamic", "consistency", "overall"]
    assert r.status == "ok"  # physics is not judged by such a backend


class _Garbled(FakeBackend):
    """The fake judge's answer with its first lines garbled on one video."""

    def _one(self, video, prompt) -> BackendOutput:
        out = super()._one(video, prompt)
        if "bad" in video.path:
            out.text = '{"dynamic": 3, "physics": 4'  # cut off: physics may have been 4.5
        return out


@pytest.fixture()
def clips(tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    for name in ("good", "bad"):
        write_video(folder / f"{name}.mp4", make_clip(num_frames=8, size=(48, 48)), fps=8)
    return folder


def test_partial_records_are_counted_listed_and_in_the_csv(clips: Path, tmp_path: Path) -> None:
    summary = run_batch(Evaluator(_Garbled()), collect_items(clips, prompt="p"), tmp_path / "run", progress=False)
    records = {r["id"]: r for r in iter_records(tmp_path / "run" / "results.jsonl")}
    assert records["bad"]["status"] == "partial" and records["good"]["status"] == "ok"
    assert records["bad"]["scores"]["physics"] is None and records["bad"]["scores"]["dynamic"] == 3
    assert summary.partial == ("bad",)
    assert "1 of the scored are partial" in summary.line() and "bad" in summary.line()
    rows = {r["id"]: r for r in csv.DictReader(open(tmp_path / "run" / "results.csv", encoding="utf-8"))}
    assert rows["bad"]["status"] == "partial"


def test_summary_text_without_partials_is_one_line() -> None:
    assert "\n" not in summary_text(3, 0, 0, 3, 1.0, Path("r.jsonl"))


def test_signals_records_say_what_they_judge(clips: Path, tmp_path: Path) -> None:
    from aigve.backends.signals import SignalsBackend

    backend = SignalsBackend()
    info = backend.describe()
    assert info["judged_aspects"] == ["technical_quality", "dynamic", "consistency", "overall"]
    assert info["overall_kind"] == "pixel-only (signals)"
    assert info["calibration_status"] == "uncalibrated: hand-set thresholds"
    run_batch(Evaluator(backend), collect_items(clips / "good.mp4", prompt="p"), tmp_path / "s", progress=False)
    (record,) = iter_records(tmp_path / "s" / "results.jsonl")
    assert record["judged_aspects"] == info["judged_aspects"] and record["status"] == "ok"
    assert record["comments"]["overall"].startswith("pixel-only (signals)")
    assert record["backend"]["overall_kind"] == "pixel-only (signals)"


# ----------------------------------------------------------------------------------------------- manifests


def test_a_one_megabyte_prompt_in_a_csv_manifest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text('video,prompt\nx.mp4,"' + "p" * 1_000_000 + '"\n', encoding="utf-8")
    assert len(read_manifest(path)[0].prompt) == 1_000_000


def test_a_cell_over_the_limit_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    import aigve.runner

    monkeypatch.setattr(aigve.runner, "CSV_FIELD_LIMIT", 200_000)
    path = tmp_path / "m.csv"
    path.write_text('video,prompt\nx.mp4,"' + "p" * 300_000 + '"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"row 2.*at most 200,000 characters\); use a JSONL manifest"):
        read_manifest(path)


def test_a_duplicated_column_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("video,prompt,video\na.mp4,p,b.mp4\n", encoding="utf-8")
    with pytest.raises(InputError, match="column 'video' appears more than once"):
        read_manifest(path)


def test_other_columns_travel_into_records_and_the_csv(clips: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"video,prompt,generator,note\n{clips / 'good.mp4'},p,cogvideox,=1+2\n"
                        f"{clips / 'bad.mp4'},p,sora,@cmd\n", encoding="utf-8")
    items = read_manifest(manifest)
    assert dict(items[0].meta) == {"generator": "cogvideox", "note": "=1+2"}
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(json.dumps({"video": str(clips / "good.mp4"), "prompt": "p", "seed": 3}) + "\n")
    assert dict(read_manifest(jsonl)[0].meta) == {"seed": "3"}
    run_batch(Evaluator(FakeBackend()), items, tmp_path / "run", progress=False)
    records = {r["id"]: r for r in iter_records(tmp_path / "run" / "results.jsonl")}
    assert {r["meta"]["generator"] for r in records.values()} == {"cogvideox", "sora"}
    rows = list(csv.DictReader(open(tmp_path / "run" / "results.csv", encoding="utf-8")))
    assert {r["meta.generator"] for r in rows} == {"cogvideox", "sora"}
    assert {r["meta.note"] for r in rows} == {"'=1+2", "'@cmd"}  # neutralised, not run as formulas


@pytest.mark.parametrize(("cell", "safe"), [("=HYPERLINK(1)", "'=HYPERLINK(1)"), ("+1", "'+1"), ("-2", "'-2"),
                                            ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("ok", "ok"),
                                            (-1, -1), (None, None)])
def test_safe_cell(cell, safe) -> None:
    assert safe_cell(cell) == safe


def test_the_web_download_uses_the_same_csv_writer() -> None:
    import inspect

    import aigve.webui.service as service

    assert "write_csv(records" in inspect.getsource(service.WebService.run_batch)


# ----------------------------------------------------------------------------------------------- inputs


def test_control_characters_in_names_cannot_forge_console_lines(tmp_path: Path) -> None:
    assert console_safe("a.mp4\n10 scored, 0 failed\x1b[2K\r") == "a.mp4\\n10 scored, 0 failed\\x1b[2K\\r"
    err = InputError("x.csv\nfake line", "bad")
    assert "\n" not in str(err)
    assert "\n" not in str(VideoDecodeError("v\n.mp4", "gone"))


def test_folder_input_accounts_for_every_entry(clips: Path, tmp_path: Path, caplog) -> None:
    folder = clips
    (folder / "loop.mp4").symlink_to(folder / "loop.mp4")
    (folder / "dangling.mp4").symlink_to(folder / "nowhere.mp4")
    (folder / "dir.mp4").mkdir()
    os.mkfifo(folder / "pipe.mp4")
    (folder / "notes.md").write_text("x")
    with caplog.at_level("INFO"):
        items = collect_items(folder, prompt="p")
    assert sorted(it.id for it in items) == ["bad", "dangling", "dir", "good", "loop", "pipe"]
    assert "notes.md" in caplog.text
    summary = run_batch(Evaluator(FakeBackend()), items, tmp_path / "run", progress=False)
    assert summary.scored == 2 and summary.failed == 4
    errors = {r["id"]: r["error"]["message"] for r in iter_records(tmp_path / "run" / "results.jsonl")
              if r["error"]}
    assert "symlink loop" in errors["loop"] and "dangling symlink" in errors["dangling"]
    assert "is a directory" in errors["dir"] and "not a regular file (a FIFO" in errors["pipe"]


def test_manifest_symlink_loop_and_device_files_say_what_they_are(tmp_path: Path) -> None:
    (tmp_path / "loop.mp4").symlink_to(tmp_path / "loop.mp4")
    os.mkfifo(tmp_path / "pipe.mp4")
    with pytest.raises(VideoDecodeError, match="symlink loop"):
        probe(tmp_path / "loop.mp4")
    with pytest.raises(VideoDecodeError, match="not a regular file"):
        probe(tmp_path / "pipe.mp4")
    with pytest.raises(VideoDecodeError, match="not a regular file .a device"):
        probe("/dev/null")
    items = collect_items(tmp_path / "loop.mp4", prompt="p")  # a single looping link gets its record too
    assert items[0].id == "loop"


# ----------------------------------------------------------------------------------------------- reports


def test_reports_group_by_manifest_meta_and_count_partial_records(tmp_path: Path) -> None:
    from aigve.aspects import ASPECT_KEYS
    from aigve.report import build_report
    from aigve.results import write_csv

    n = 12
    entries = [{"video_path_pd": f"videos/c{i}.mp4", "prompt_gt": f"p{i}", "model": "g",
                **{k: {"score": (i + j) % 5 + 1} for j, k in enumerate(ASPECT_KEYS)}} for i in range(n)]
    human = tmp_path / "human.json"
    human.write_text(json.dumps({"data_list": entries}))
    records = []
    for i in range(n):
        r = EvaluationResult(id=f"c{i}", video=f"/x/c{i}.mp4", prompt=f"p{i}", meta={"batch": f"b{i % 2}"})
        r.scores.update({k: (i + j) % 5 + 1 for j, k in enumerate(ASPECT_KEYS)})
        if i < 3:
            r.scores["physics"] = None  # partial
        records.append(r.to_record())
    jsonl = tmp_path / "run" / "results.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    write_csv(records, tmp_path / "run.csv")
    for path in (jsonl, tmp_path / "run.csv"):
        m = build_report([path], human, tmp_path / f"out_{path.suffix}", group_by="batch", n_boot=20,
                         embeddings=False).metrics
        assert sorted(m["groups"]["by_system"][next(iter(m["groups"]["by_system"]))]) == ["b0", "b1"]
        assert any("3 of 12 records are partial" in note for note in m["notes"]), m["notes"]


def test_score_prints_what_signals_judges_and_its_calibration(clips: Path, tmp_path: Path, capsys) -> None:
    from aigve.cli import main

    code = main(["score", str(clips / "good.mp4"), "--prompt", "p", "--backend", "signals", "--out",
                 str(tmp_path / "s"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0
    assert "overall is pixel-only (signals)" in err and "uncalibrated: hand-set thresholds" in err
    run = json.loads((tmp_path / "s" / "run.json").read_text())
    assert run["evaluator"]["calibration_status"] == "uncalibrated: hand-set thresholds"


def test_a_shard_summary_lists_its_partial_records(clips: Path, tmp_path: Path) -> None:
    from aigve.sharding import run_shard

    items = collect_items(clips, prompt="p")
    lines = [run_shard(Evaluator(_Garbled()), items, tmp_path / "run", rank, 2, progress=False)
             for rank in range(2)]
    partial = [s for s in lines if s.partial]
    assert [s.partial for s in partial] == [("bad",)]  # the one shard holding "bad" lists it; the other none
    assert "1 of the scored are partial" in partial[0].line() and "bad" in partial[0].line()
