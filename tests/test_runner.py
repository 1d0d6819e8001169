"""Batch scoring end to end with the fake backend: inputs, bad files, resume, CLI exit codes."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from aigve.aspects import ASPECT_KEYS
from aigve.backends.fake import FakeBackend
from aigve.cli import main
from aigve.errors import InputError
from aigve.evaluator import Evaluator
from aigve.results import iter_records
from aigve.run.batch import run_batch
from aigve.runner import collect_items, read_manifest


def _records(out: Path) -> list[dict]:
    return list(iter_records(out / "results.jsonl"))


def test_score_manifest_writes_nine_aspects_and_sampling(shared_videos, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["score", str(shared_videos / "manifest.csv"), "--backend", "fake", "--out", str(out), "--no-progress"])
    assert code == 0
    assert "NOT A REAL EVALUATION" in capsys.readouterr().err
    recs = _records(out)
    assert len(recs) == 11 and all(r["status"] == "ok" for r in recs)
    for r in recs:
        assert set(r["scores"]) == set(ASPECT_KEYS) and all(isinstance(v, int) for v in r["scores"].values())
        assert all(r["comments"][k] for k in ASPECT_KEYS)
        s = r["sampling"]
        assert s["num_frames"] == len(s["frame_indices"]) == len(s["timestamps"]) and s["num_frames"] % 2 == 0
        assert s["source_fps"] > 0 and s["duration_s"] > 0 and s["source_width"] > 0
        assert r["prompt"].startswith("A beautiful coastal beach")
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 11 and rows[0]["overall"] != ""
    assert json.loads((out / "run.json").read_text())["evaluator"]["name"] == "fake"


def test_corrupt_file_is_recorded_and_others_still_scored(shared_videos, tmp_path):
    from aigve.testing.videos import write_corrupt

    data = tmp_path / "data"
    data.mkdir()
    rows = list(csv.DictReader(open(shared_videos / "manifest.csv")))[:3]
    for r in rows:
        shutil.copy(shared_videos / r["video"], data / r["video"])
    bad = {kind: write_corrupt(data / f"bad_{kind}.mp4", kind) for kind in ("empty", "garbage", "truncated", "text")}
    with open(data / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["video", "prompt"])
        for r in rows:
            w.writerow([r["video"], r["prompt"]])
        for p in bad.values():
            w.writerow([p.name, "broken"])
        w.writerow(["missing.mp4", "nowhere"])
    out = tmp_path / "out"
    code = main(["score", str(data / "manifest.csv"), "--backend", "fake", "--out", str(out), "--no-progress"])
    assert code == 1
    recs = {r["id"]: r for r in _records(out)}
    assert len(recs) == 8
    assert sum(r["status"] == "ok" for r in recs.values()) == 3
    for name in ["bad_empty", "bad_garbage", "bad_truncated", "bad_text", "missing"]:
        err = recs[name]["error"]
        assert err and name in err["message"], (name, err)
        assert recs[name]["scores"]["overall"] is None


def test_resume_after_interrupt_loses_nothing(shared_videos, tmp_path):
    class Interrupting(FakeBackend):
        calls = 0

        def score(self, videos, prompts):
            Interrupting.calls += 1
            if Interrupting.calls == 4:
                raise KeyboardInterrupt
            return super().score(videos, prompts)

    items = collect_items(shared_videos / "manifest.csv")
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_batch(Evaluator(Interrupting(), prefetch=0), items, out, progress=False)
    first = _records(out)
    assert len(first) == 3 and (out / "results.csv").exists()
    with pytest.raises(InputError, match="`resume`"):
        run_batch(Evaluator(FakeBackend()), items, out, progress=False)
    summary = run_batch(Evaluator(FakeBackend()), items, out, resume=True, progress=False)
    assert summary.skipped == 3 and summary.scored == 8 and summary.failed == 0
    ids = [r["id"] for r in _records(out)]
    assert len(ids) == len(set(ids)) == 11
    # a fresh uninterrupted run gives the same records (deterministic backend)
    full = run_batch(Evaluator(FakeBackend()), items, tmp_path / "full", progress=False)
    assert full.scored == 11
    a = {r["id"]: r["scores"] for r in _records(out)}
    b = {r["id"]: r["scores"] for r in _records(tmp_path / "full")}
    assert a == b


def test_batched_equals_unbatched_and_failing_item_isolated(shared_videos, tmp_path):
    items = collect_items(shared_videos / "manifest.csv")[:5]
    backend = FakeBackend(fail_on="lavie_beach_02")
    one = list(Evaluator(backend).evaluate_many(items, batch_size=1))
    many = list(Evaluator(backend).evaluate_many(items, batch_size=3))
    assert sorted(r.id for r in many) == sorted(it.id for it in items)  # each once (batch order)
    assert {r.id: r.scores for r in one} == {r.id: r.scores for r in many}
    bad = [r for r in many if not r.ok]
    assert len(bad) == 1 and bad[0].error["stage"] == "model" and "lavie_beach_02" in bad[0].error["message"]


def test_folder_input_uses_manifest_inside(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    items = collect_items(repo / "data" / "samples")
    assert len(items) == 3 and all(it.prompt for it in items)


def test_single_file_and_sidecar_prompt(shared_videos, tmp_path):
    clip = tmp_path / "clip.mp4"
    shutil.copy(shared_videos / "lavie_beach_03.mp4", clip)
    (tmp_path / "clip.txt").write_text("a chalk drawing of a beach\n")
    assert collect_items(tmp_path)[0].prompt == "a chalk drawing of a beach"
    assert collect_items(clip, prompt="given")[0].prompt == "given"


@pytest.mark.parametrize("content,fragment", [
    ("file,prompt\na.mp4,x\n", "missing column(s) video"),
    ("video,prompt\na.mp4,x\na.mp4,y\n", "duplicate id 'a'"),
    ("video,prompt\n,x\n", "row 2"),
])
def test_bad_manifests_name_file_and_problem(tmp_path, content, fragment):
    m = tmp_path / "m.csv"
    m.write_text(content)
    with pytest.raises(InputError) as err:
        read_manifest(m)
    assert "m.csv" in str(err.value) and fragment in str(err.value)


def test_cli_reports_input_errors_with_exit_2(tmp_path, capsys):
    code = main(["score", str(tmp_path / "nothing.csv"), "--backend", "fake", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "nothing.csv" in capsys.readouterr().err


def test_unknown_backend_suggests(tmp_path, capsys, shared_videos):
    code = main(["score", str(shared_videos / "manifest.csv"), "--backend", "fak", "--out", str(tmp_path / "o")])
    assert code == 2 and "did you mean 'fake'" in capsys.readouterr().err.lower()


def test_probe_command(shared_videos, tmp_path, capsys):
    assert main(["probe", str(shared_videos / "manifest.csv")]) == 0
    assert "11 readable, 0 failed" in capsys.readouterr().out
    (tmp_path / "x.mp4").write_bytes(b"")
    assert main(["probe", str(tmp_path)]) == 1
    assert "x.mp4" in capsys.readouterr().out


def test_each_video_is_probed_once_per_run(shared_videos, tmp_path, monkeypatch):
    import aigve.video as video

    calls = []
    real = video.probe
    monkeypatch.setattr(video, "probe", lambda p: calls.append(p) or real(p))
    items = collect_items(shared_videos / "manifest.csv")[:3]
    summary = run_batch(Evaluator(FakeBackend()), items, tmp_path / "o", progress=False)
    assert summary.scored == 3 and len(calls) == 3


def test_overwrite_starts_afresh(shared_videos, tmp_path):
    args = ["score", str(shared_videos / "lavie_beach_00.mp4"), "--prompt", "a beach", "--backend", "fake",
            "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    assert main(args) == 2  # refuses to append without --resume
    assert main([*args, "--overwrite"]) == 0
    assert len(_records(tmp_path)) == 1
    assert main([*args, "--overwrite", "--resume"]) == 2


@pytest.mark.parametrize("flag,value", [("--batch-size", "0"), ("--limit", "-1"), ("--limit", "0")])
def test_bad_count_options_fail_before_anything_is_written(shared_videos, tmp_path, capsys, flag, value):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"")  # a probe failure that would otherwise be written before the option is checked
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"video,prompt\n{shared_videos / 'lavie_beach_00.mp4'},a\n{bad},b\n")
    out = tmp_path / "out"
    code = main(["score", str(manifest), "--backend", "fake", "--out", str(out), "--no-progress", flag, value])
    assert code == 2 and flag in capsys.readouterr().err
    assert not (out / "results.jsonl").exists()


def test_folder_without_prompts_warns(shared_videos, tmp_path, caplog):
    shutil.copy(shared_videos / "lavie_beach_04.mp4", tmp_path / "a.mp4")
    with caplog.at_level("WARNING"):
        items = collect_items(tmp_path)
    assert items[0].prompt == "" and "have no prompt" in caplog.text


def test_manifest_encoding_errors_name_the_file_and_a_bom_is_accepted(shared_videos, tmp_path, capsys):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"video,prompt\n" + str(shared_videos / "lavie_beach_00.mp4").encode() + b",caf\xe9\n")
    code = main(["score", str(latin), "--backend", "fake", "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "latin.csv" in err and "UTF-8" in err and "Traceback" not in err
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"video": str(shared_videos / "lavie_beach_00.mp4"), "prompt": "p"}).encode())
    assert [it.prompt for it in read_manifest(bom)] == ["p"]


def test_unusable_out_folder_is_a_clear_error(shared_videos, tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    for out in (a_file, a_file / "below"):
        code = main(["score", str(shared_videos / "lavie_beach_00.mp4"), "--prompt", "p", "--backend", "fake",
                     "--out", str(out), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and str(out) in err and "--out" in err


def test_no_model_is_loaded_when_every_input_fails_the_probe(tmp_path, monkeypatch):
    import aigve.commands.score as score

    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "b.mp4").write_text("not a video")
    loads = []
    monkeypatch.setattr(score, "build_evaluator", lambda args, **kw: loads.append(args) or 1 / 0)
    out = tmp_path / "out"
    assert main(["score", str(tmp_path), "--prompt", "p", "--backend", "fake", "--out", str(out), "--no-progress"]) == 1
    assert loads == [] and {r["id"] for r in _records(out)} == {"a", "b"}


def test_bad_backend_option_fails_before_any_record(tmp_path, shared_videos, capsys):
    (tmp_path / "bad.mp4").write_bytes(b"")
    out = tmp_path / "out"
    code = main(["score", str(tmp_path), "--prompt", "p", "--backend", "fake", "--model", "x/y", "--out", str(out)])
    assert code == 2 and "does not take this option" in capsys.readouterr().err
    assert not (out / "results.jsonl").exists()


def test_json_list_manifest_and_empty_prompt_warning(shared_videos, tmp_path, caplog):
    m = tmp_path / "m.json"
    m.write_text(json.dumps([{"video": str(shared_videos / "lavie_beach_00.mp4"), "prompt": "beach"},
                             {"video": str(shared_videos / "lavie_beach_01.mp4"), "prompt": ""}]))
    with caplog.at_level("WARNING"):
        items = collect_items(m)
    assert [it.prompt for it in items] == ["beach", ""] and "empty prompt (first: row 2)" in caplog.text
    m.write_text(json.dumps({"video": "a.mp4"}))
    with pytest.raises(InputError, match="list of objects"):
        collect_items(m)


def test_decode_workers_process_from_the_cli(shared_videos, tmp_path):
    out = tmp_path / "o"
    args = ["score", str(shared_videos / "lavie_beach_02.mp4"), "--prompt", "p", "--backend", "fake", "--out", str(out),
            "--no-progress", "--decode-workers", "process"]
    assert main(args) == 0
    assert _records(out)[0]["status"] == "ok"


def test_resume_retries_failures_and_keeps_one_record_per_video(shared_videos, tmp_path):
    class FailsOnce(FakeBackend):
        failed: set = set()

        def score(self, videos, prompts):
            name = Path(videos[0].path).name
            if name in ("lavie_beach_02.mp4", "lavie_beach_05.mp4") and name not in FailsOnce.failed:
                FailsOnce.failed.add(name)
                raise RuntimeError("CUDA out of memory (simulated)")
            return super().score(videos, prompts)

    items = collect_items(shared_videos / "manifest.csv")
    out = tmp_path / "out"
    first = run_batch(Evaluator(FailsOnce(), prefetch=0), items, out, progress=False)
    assert (first.scored, first.failed) == (9, 2)
    order = [r["id"] for r in _records(out)]
    again = run_batch(Evaluator(FailsOnce(), prefetch=0), items, out, resume=True, progress=False)
    assert (again.scored, again.failed, again.skipped) == (2, 0, 9)
    records = _records(out)
    assert [r["id"] for r in records] == order  # one record per video, each in its first place
    assert all(r["status"] == "ok" for r in records)


def test_duplicate_ids_say_how_to_fix_them(shared_videos, tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("id,video,prompt\nx,a.mp4,p\nx,b.mp4,q\n")
    with pytest.raises(InputError) as err:
        read_manifest(m)
    message = str(err.value)
    assert "m.csv, row 3" in message and "duplicate id 'x' (also at row 2)" in message
    assert "'id' column must be unique" in message and "add an 'id' column" not in message
    m.write_text("id,video,prompt\n,a.mp4,p\n,a.mp4,q\n")  # empty ids fall back to the video path
    with pytest.raises(InputError, match="fill in a unique 'id'"):
        read_manifest(m)
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("a.mp4", "a.mkv"):
        shutil.copy(shared_videos / "lavie_beach_00.mp4", folder / name)
    with pytest.raises(InputError) as err:
        collect_items(folder, prompt="p")
    message = str(err.value)
    assert "a.mkv" in message and "a.mp4" in message and "row None" not in message and "rename" in message


def test_bad_manifest_json_gives_line_and_column(tmp_path):
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"video": "a.mp4", "prompt": "p"}\n{"video": "b.mp4", "prompt": "p\n')
    with pytest.raises(InputError, match=r"row 2: not valid JSON \(Unterminated string starting at column 30\)"):
        read_manifest(jsonl)
    js = tmp_path / "m.json"
    js.write_text('[{"video": "a.mp4",\n  "prompt": }]')
    with pytest.raises(InputError, match=r"at line 2, column 13"):
        read_manifest(js)
