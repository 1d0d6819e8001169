"""The web UI's service layer without gradio: shared evaluator, single and batch scoring, reports, path checks."""

import csv
import json
import shutil
import sys
import zipfile

import pytest

from aigve.aspects import ASPECT_KEYS
from aigve.evaluator import VideoItem
from aigve.webui import service as service_mod
from aigve.webui.safety import Limits, RequestRefused
from aigve.webui.service import DEFAULT_MODEL, BatchInput, ServiceConfig, WebService

CLIPS = ("lavie_beach_00.mp4", "lavie_beach_10.mp4")


@pytest.fixture
def svc(tmp_path, shared_videos):
    return WebService(ServiceConfig(backend="fake", backends=("signals",), allowed_dirs=(str(shared_videos),),
                                    work_dir=str(tmp_path / "work"), limits=Limits(max_duration_s=30)))


def _prompts(shared_videos) -> dict:
    return {r["video"]: r["prompt"] for r in csv.DictReader(open(shared_videos / "manifest.csv"))}


def test_gradio_is_not_imported_by_the_service():
    assert "aigve.webui.service" in sys.modules
    assert not hasattr(service_mod, "gr") and "gradio" not in service_mod.__dict__


def test_evaluate_returns_a_record_named_by_the_upload(svc, shared_videos):
    steps = []
    rec = svc.evaluate(shared_videos / CLIPS[0], "a beach", name="my clip.mp4",
                       progress=lambda f, s: steps.append((f, s)))
    assert rec["video"] == "my clip.mp4" and rec["id"] == "my clip" and rec["status"] == "ok"
    assert set(rec["scores"]) == set(ASPECT_KEYS) and all(0 <= v <= 5 for v in rec["scores"].values())
    assert all(rec["comments"][k] for k in ASPECT_KEYS)
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and len(steps) == 3
    assert str(shared_videos) not in json.dumps(rec)  # no server path in what users get back


def test_thumbnails_are_the_sampled_frames(svc, shared_videos):
    rec = svc.evaluate(shared_videos / CLIPS[0], "a beach")
    thumbs = svc.thumbnails(shared_videos / CLIPS[0], rec, side=96)
    s = rec["sampling"]
    assert len(thumbs) == s["num_frames"] == len(s["frame_indices"])
    img, caption = thumbs[1]
    assert img.shape == (96, 96, 3) and img.dtype.name == "uint8"
    assert caption == f"{s['timestamps'][1]:.2f} s · frame {s['frame_indices'][1]}"
    assert svc.thumbnails(shared_videos / CLIPS[0], {"sampling": {}}) == []


def test_evaluate_refusals_name_the_problem(svc, shared_videos, tmp_path):
    with pytest.raises(RequestRefused, match="no video given"):
        svc.evaluate(None, "x")
    with pytest.raises(RequestRefused, match="backend 'macs' is not offered here; choose one of fake, signals"):
        svc.evaluate(shared_videos / CLIPS[0], "x", backend="macs")
    with pytest.raises(RequestRefused, match="model '/etc' is not offered"):
        svc.evaluate(shared_videos / CLIPS[0], "x", model="/etc")
    short = WebService(ServiceConfig(backend="fake", limits=Limits(max_duration_s=1), work_dir=str(tmp_path / "w")))
    with pytest.raises(RequestRefused, match="2.0 s long"):
        short.evaluate(shared_videos / CLIPS[0], "x")


def test_failed_scoring_is_a_refusal_with_the_reason(shared_videos, tmp_path):
    svc = WebService(ServiceConfig(backend="fake", backend_options={"fail_on": "lavie"}, work_dir=str(tmp_path)))
    with pytest.raises(RequestRefused, match=r"lavie_beach_00.mp4: could not be scored \(model step\)"):
        svc.evaluate(shared_videos / CLIPS[0], "x")


def test_one_shared_evaluator_and_one_heavy_model_at_a_time(svc, monkeypatch):
    first = svc.evaluator()
    assert svc.evaluator("fake", DEFAULT_MODEL) is first and svc.evaluator("fake", None) is first
    svc.evaluator("signals")
    assert svc.evaluator("fake") is first  # light backends stay loaded side by side
    svc.close()
    monkeypatch.setattr(service_mod, "LIGHT_BACKENDS", frozenset())  # now both count as weight-bearing
    fake = svc.evaluator("fake")
    signals = svc.evaluator("signals")  # evicts fake
    assert list(svc._evaluators) == [("signals", None)]
    assert svc.evaluator("fake") is not fake and list(svc._evaluators) == [("fake", None)]
    assert svc.evaluator("signals") is not signals


def test_a_model_choice_for_a_backend_without_models_is_refused(tmp_path, shared_videos):
    svc = WebService(ServiceConfig(backend="fake", models=("some/model",), work_dir=str(tmp_path)))
    assert svc.model_choices() == [DEFAULT_MODEL, "some/model"]
    with pytest.raises(RequestRefused, match="takes no model"):
        svc.evaluator("fake", "some/model")


def _batch_zip(path, shared_videos, manifest_rows, *, folder="clips"):
    with zipfile.ZipFile(path, "w") as zf:
        for name in CLIPS:
            zf.write(shared_videos / name, f"{folder}/{name}")
        zf.writestr(f"{folder}/notes.txt", "not a video")
        if manifest_rows is not None:
            zf.writestr(f"{folder}/manifest.csv", "video,prompt\n" + "".join(f"{v},{p}\n" for v, p in manifest_rows))
    return path


def test_batch_from_zip_writes_jsonl_and_csv_and_cleans_up(svc, shared_videos, tmp_path):
    rows = [(CLIPS[0], "beach one"), (CLIPS[1], "beach two"), ("notes.txt", "not a video")]
    src = _batch_zip(tmp_path / "b.zip", shared_videos, rows)
    batch = svc.prepare_batch(zip_path=str(src))
    assert [it.prompt for it in batch.items] == ["beach one", "beach two"]
    assert len(batch.refused) == 1 and "not a video file type" in batch.refused[0][1]
    out = svc.run_batch(batch, progress=False)
    assert "2 scored, 0 failed" in out.summary and "1 refused" in out.summary
    recs = [json.loads(line) for line in out.jsonl.read_text().splitlines()]
    assert [r["status"] for r in recs] == ["ok", "ok", "error"] and recs[2]["error"]["stage"] == "input"
    table = list(csv.DictReader(open(out.csv)))
    assert [r["id"] for r in table] == ["lavie_beach_00", "lavie_beach_10", "notes"]
    assert not batch.scratch.exists()  # the extracted upload is gone once scored
    info = json.loads((out.jsonl.parent / "run.json").read_text())
    job = svc.batch_job(out.jsonl.parent)  # the batch is a ScoreJob: its spec recorded as `aigve score` records it
    assert info["spec"] == job.spec()[0].to_dict() and info["spec"]["backend"] == "fake"
    assert info["settings"]["engine"]["via"] == "web UI batch"


def test_batch_zip_with_separate_manifest(svc, shared_videos, tmp_path):
    src = _batch_zip(tmp_path / "b.zip", shared_videos, None)
    manifest = tmp_path / "upload" / "list.csv"
    manifest.parent.mkdir()
    manifest.write_text(f"video,prompt,id\n{CLIPS[1]},second,b\n")
    batch = svc.prepare_batch(zip_path=str(src), manifest_path=str(manifest))
    assert [(it.id, it.prompt) for it in batch.items] == [("b", "second")]
    assert batch.items[0].video.startswith(str(batch.scratch))


def test_batch_results_name_videos_as_the_user_gave_them_not_by_server_path(svc, shared_videos, tmp_path):
    src = _batch_zip(tmp_path / "clips.zip", shared_videos, None)
    manifest = tmp_path / "upload" / "manifest.csv"
    manifest.parent.mkdir()
    manifest.write_text(f"video,prompt\n{CLIPS[0]},one\n{CLIPS[1]},two\nnotes.txt,three\n")
    with_manifest = svc.run_batch(svc.prepare_batch(zip_path=str(src), manifest_path=str(manifest)), progress=False)
    assert [r["video"] for r in with_manifest.records] == [*CLIPS, "notes.txt"]  # the manifest's values
    no_manifest = svc.run_batch(svc.prepare_batch(zip_path=str(src)), progress=False)
    assert [r["video"] for r in no_manifest.records] == [f"clips/{c}" for c in CLIPS]  # the zip member paths
    folder = svc.run_batch(svc.prepare_batch(folder=str(shared_videos)), progress=False)
    assert folder.records[0]["video"] == "lavie_beach_00.mp4"  # relative to the allowed folder
    for out in (with_manifest, no_manifest, folder):
        downloads = out.jsonl.read_text() + out.csv.read_text()
        assert str(svc.work_dir) not in downloads and str(shared_videos) not in downloads
        assert [json.loads(line)["video"] for line in out.jsonl.read_text().splitlines()] == [
            r["video"] for r in out.records]
        assert [r["video"] for r in csv.DictReader(open(out.csv))] == [r["video"] for r in out.records]


def test_batch_messages_name_the_member_and_the_totals_add_up(svc, shared_videos, tmp_path):
    src = _batch_zip(tmp_path / "clips.zip", shared_videos, None)  # members clips/<clip>, clips/notes.txt
    manifest = tmp_path / "upload" / "manifest.csv"
    manifest.parent.mkdir()
    manifest.write_text(f"video,prompt\n{CLIPS[0]},a\nclips/{CLIPS[1]},b\nclips/missing.mp4,c\nnotes.txt,d\n"
                        "gone.mp4,e\n")
    batch = svc.prepare_batch(zip_path=str(src), manifest_path=str(manifest))
    assert [it.prompt for it in batch.items] == ["a", "b"]  # a member named with or without the zip's folder
    reasons = [r for _, r in batch.refused]
    assert reasons[0] == "clips/missing.mp4: not in the uploaded zip" and reasons[2] == "gone.mp4: not in the uploaded zip"
    assert reasons[1].startswith("notes.txt: not a video file type")
    out = svc.run_batch(batch, progress=False)
    assert out.summary.startswith("5 rows: 2 scored, 0 failed, 3 refused before scoring (")
    assert out.records[2]["error"]["message"] == "clips/missing.mp4: not in the uploaded zip"
    (tmp_path / "lib").mkdir()
    shutil.copy(shared_videos / CLIPS[0], tmp_path / "lib" / CLIPS[0])
    (tmp_path / "lib" / "manifest.csv").write_text(f"video,prompt\n{CLIPS[0]},a\nmissing.mp4,b\n")
    lib = WebService(ServiceConfig(backend="fake", allowed_dirs=(str(tmp_path / "lib"),), work_dir=str(tmp_path / "w")))
    assert lib.prepare_batch(folder=str(tmp_path / "lib")).refused[0][1] == "missing.mp4: no such file in the chosen folder"
    files = BatchInput(items=[VideoItem("a", "a.mp4", "")] * 3, refused=[(VideoItem("b", "b.mp4", ""), "b.mp4: bad")])
    assert service_mod.batch_summary(files, 2, 1, 2.0) == "4 videos: 2 scored, 1 failed, 1 refused before scoring (2.0 s)"
    files.refused.clear()
    assert service_mod.batch_summary(files, 3, 0, 1.0) == "3 videos: 3 scored, 0 failed (1.0 s)"


def test_batch_summary_warns_about_missing_prompts_when_the_backend_reads_them(svc, shared_videos, tmp_path):
    no_manifest = svc.prepare_batch(zip_path=str(_batch_zip(tmp_path / "a.zip", shared_videos, None)))
    summary = svc.run_batch(no_manifest, progress=False).summary
    assert "⚠️ **2 video(s) have no prompt** (no manifest.csv / manifest.jsonl with a prompt column" in summary
    assert "prompt-dependent aspects (element presence, element quality, action presence, action quality, " \
           "overall) were judged without one, e.g. clips/lavie_beach_00.mp4" in summary
    empty = svc.prepare_batch(zip_path=str(_batch_zip(tmp_path / "b.zip", shared_videos, [(CLIPS[0], "a"), (CLIPS[1], "")])))
    summary = svc.run_batch(empty, progress=False).summary
    assert "**1 video(s) have no prompt** (an empty prompt in the manifest)" in summary and CLIPS[1] in summary
    signals = svc.prepare_batch(zip_path=str(_batch_zip(tmp_path / "c.zip", shared_videos, None)))
    assert "no prompt" not in svc.run_batch(signals, "signals", progress=False).summary  # signals reads no prompt
    full = svc.prepare_batch(zip_path=str(_batch_zip(tmp_path / "d.zip", shared_videos, [(CLIPS[0], "a"), (CLIPS[1], "b")])))
    assert "no prompt" not in svc.run_batch(full, progress=False).summary


def test_uses_prompt_reads_the_backend_declaration():
    assert service_mod.uses_prompt("fake") and not service_mod.uses_prompt("signals")
    assert service_mod.uses_prompt("no-such-backend")  # unknown: warn rather than stay silent
    assert service_mod.missing_prompt_warning(["x.mp4"]).startswith("⚠️ **No prompt given**: prompt-dependent")


@pytest.mark.parametrize("row", ["../../../etc/passwd", "/etc/passwd", "sub/../../x.mp4"])
def test_batch_manifest_pointing_outside_is_refused(svc, shared_videos, tmp_path, row):
    src = _batch_zip(tmp_path / "b.zip", shared_videos, [(CLIPS[0], "ok"), (row, "escape")])
    with pytest.raises(RequestRefused, match="points outside the batch folder"):
        svc.prepare_batch(zip_path=str(src))
    assert not list((svc.work_dir).glob("upload-*"))  # scratch removed on refusal


def test_batch_from_allowed_folder_and_refusals(svc, shared_videos, tmp_path):
    assert svc.batch_folders()[0] == str(shared_videos.resolve())
    batch = svc.prepare_batch(folder=str(shared_videos))
    assert len(batch.items) == 11 and not batch.refused and batch.scratch is None
    for bad, match in [("/etc", "outside the folders"), (f"{shared_videos}/../videos", r"'\.\.'"),
                       (str(tmp_path), "outside the folders")]:
        with pytest.raises(RequestRefused, match=match):
            svc.prepare_batch(folder=bad)
    link = tmp_path / "link"
    link.symlink_to(shared_videos)
    assert svc.prepare_batch(folder=str(link)).items  # a link into an allowed folder is fine
    with pytest.raises(RequestRefused, match="either a zip"):
        svc.prepare_batch()
    tight = WebService(ServiceConfig(backend="fake", allowed_dirs=(str(shared_videos),), work_dir=str(tmp_path / "w"),
                                     limits=Limits(max_batch_videos=5)))
    with pytest.raises(RequestRefused, match="lists 11 videos; this server takes at most 5"):
        tight.prepare_batch(folder=str(shared_videos))
    closed = WebService(ServiceConfig(backend="fake", work_dir=str(tmp_path / "w2")))
    with pytest.raises(RequestRefused, match="allows no folders"):
        closed.prepare_batch(folder=str(shared_videos))


def test_batch_with_nothing_scorable_is_refused(svc, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.mp4").write_text("text, not video")
    with zipfile.ZipFile(tmp_path / "j.zip", "w") as zf:
        zf.write(tmp_path / "junk" / "a.mp4", "a.mp4")
    with pytest.raises(RequestRefused, match="no video in the batch can be scored: a.mp4: not a readable video"):
        svc.prepare_batch(zip_path=str(tmp_path / "j.zip"))


def test_report_from_a_batch_and_a_human_file(svc, shared_videos, tmp_path):
    batch = svc.prepare_batch(zip_path=str(_batch_zip(tmp_path / "b.zip", shared_videos,
                                                      [(CLIPS[0], "a"), (CLIPS[1], "b")])))
    out = svc.run_batch(batch, progress=False)
    human = tmp_path / "human.csv"
    human.write_text("id," + ",".join(ASPECT_KEYS) + "\n" + "lavie_beach_00," + ",".join(["3"] * 9) + "\n"
                     + "lavie_beach_10," + ",".join(["4"] * 9) + "\n")
    rep = svc.report(str(out.jsonl), str(human), n_boot=0)
    assert "NOT A REAL EVALUATION" in rep.markdown and "![" not in rep.markdown
    assert "## Plots\n\nShown in the Plots gallery below the report.\n\n## Definitions" in rep.markdown  # no bare heading
    assert {p.name for p in rep.files} == {"report.html", "report.md", "metrics.json", "metrics.csv"}
    assert rep.plots and all(p.suffix == ".png" and p.is_file() for p, _ in rep.plots)
    assert rep.metrics["human"] is not None
    listed = svc.server_files()
    assert str(out.jsonl) in listed and str(shared_videos.resolve() / "manifest.csv") in listed
    assert svc.readable_file(str(out.jsonl)) == out.jsonl.resolve()
    with pytest.raises(RequestRefused, match="outside"):
        svc.readable_file(str(human))


def test_report_errors_use_upload_names(svc, tmp_path):
    bad = tmp_path / "gradio-cache" / "mine.jsonl"
    bad.parent.mkdir()
    bad.write_text("{not json\n{}\n")
    with pytest.raises(RequestRefused, match="cannot build the report: mine.jsonl") as exc:
        svc.report(str(bad), None, names={str(bad): "mine.jsonl"})
    assert "gradio-cache" not in str(exc.value)


def test_shown_names_are_base_names_never_server_folders():
    upload = "/tmp/gradio/0123abcd/my run.jsonl"
    assert service_mod.shown_names([upload, None, "/srv/data/human.csv"], {}) == {
        upload: "my run.jsonl", "/srv/data/human.csv": "human.csv"}
    assert service_mod.shown_names([upload], {upload: "mine.jsonl"}) == {upload: "mine.jsonl"}


def test_report_shows_upload_names_not_server_paths(svc, tmp_path):
    cache = tmp_path / "gradio" / "0123abcd"  # where gradio keeps an upload, under its own name
    cache.mkdir(parents=True)
    results, human = cache / "mine.jsonl", cache / "human.csv"
    rows = [{"id": f"clip{i}", "video": f"clip{i}.mp4", "scores": {k: i % 6 for k in ASPECT_KEYS}} for i in range(3)]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"id": "clip3", "sco')  # cut-off last line
    human.write_text("id," + ",".join(ASPECT_KEYS) + "\n"
                     + "".join(f"clip{i}," + ",".join([str(5 - i)] * 9) + "\n" for i in range(3)))
    rep = svc.report(str(results), str(human), n_boot=0)
    shown = [rep.markdown, *(p.read_text() for p in rep.files)]
    assert all(str(cache) not in text for text in shown)
    assert "Human file: human.csv" in rep.markdown and "mine: mine.jsonl - 3 records" in rep.markdown
    assert "mine.jsonl: last line is incomplete" in rep.markdown
    assert rep.metrics["systems"][0]["path"] == "mine.jsonl" and rep.metrics["human"]["path"] == "human.csv"


def test_samples_come_from_the_bundled_manifest(svc):
    samples = svc.samples()
    if not service_mod.SAMPLES_DIR.is_dir():
        pytest.skip("data/samples not in this checkout")
    assert samples["lavie_beach_00.mp4"].startswith("A beautiful coastal beach")
    assert all((service_mod.SAMPLES_DIR / name).is_file() for name in samples)


def test_close_drops_models(svc):
    first = svc.evaluator()
    svc.close()
    assert svc.evaluator() is not first
    shutil.rmtree(svc.work_dir)
