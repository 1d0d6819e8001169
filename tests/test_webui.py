"""The web UI served on loopback and driven through gradio_client, as an API user would (fake + signals backends)."""

import json
import shutil
import sys
import threading
import zipfile

import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

from conftest import free_port
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from aigve.aspects import ASPECT_KEYS  # noqa: E402
from aigve.webui import Limits, ServiceConfig, WebService  # noqa: E402

CLIP, CLIP2, BIG = "lavie_beach_00.mp4", "lavie_beach_10.mp4", "lavie_beach_03.mp4"  # 0.25, 0.25, 0.91 MB
MAX_MB = 0.6


@pytest.fixture(scope="module")
def library(tmp_path_factory, shared_videos):
    """An allowed server folder with two clips and a manifest."""
    folder = tmp_path_factory.mktemp("library")
    for name in (CLIP, CLIP2):
        shutil.copy(shared_videos / name, folder / name)
    (folder / "manifest.csv").write_text(f"video,prompt\n{CLIP},first\n{CLIP2},second\n")
    return folder


@pytest.fixture(scope="module")
def app(tmp_path_factory, library):
    """(url, service) of one server for the whole module: fake + signals backends, one model slot."""
    from aigve.webui.app import launch

    service = WebService(ServiceConfig(
        backend="fake", backends=("signals",), backend_options={"delay_s": 0.2},  # long enough to overlap
        allowed_dirs=(str(library),), work_dir=str(tmp_path_factory.mktemp("webui")),
        limits=Limits(max_upload_mb=MAX_MB, max_duration_s=30, concurrency=1)))
    demo, url = launch(service, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    yield url, service
    demo.close()


@pytest.fixture(scope="module")
def server(app):
    return app[0]


@pytest.fixture(scope="module")
def client(server):
    return Client(server, verbose=False)


def test_analytics_off_and_loopback(server):
    import os

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False" and "gradio" in sys.modules
    assert server.startswith("http://127.0.0.1:")


def test_evaluate_endpoint_scores_a_shared_clip(client, shared_videos):
    rec = client.predict(handle_file(str(shared_videos / CLIP)), "A beach with waves", api_name="/evaluate")
    assert isinstance(rec, dict) and rec["status"] == "ok" and rec["video"] == CLIP
    assert set(rec["scores"]) == set(ASPECT_KEYS)
    assert all(isinstance(v, int) and 0 <= v <= 5 for v in rec["scores"].values())
    assert all(rec["comments"][k].startswith("[fake]") for k in ASPECT_KEYS)
    s = rec["sampling"]
    assert len(s["frame_indices"]) == len(s["timestamps"]) == s["num_frames"] > 0
    assert rec["timings"]["total_s"] > 0 and rec["backend"]["name"] == "fake"
    assert "/tmp" not in json.dumps(rec["video"])  # the server's upload path is not handed back


def test_evaluate_status_warns_when_the_prompt_is_empty(client, shared_videos):
    from aigve.webui.handlers import status_text

    rec = client.predict(handle_file(str(shared_videos / CLIP)), "", api_name="/evaluate")
    assert rec["prompt"] == "" and "**No prompt given**: prompt-dependent aspects" in status_text(rec)
    assert "No prompt" not in status_text({**rec, "prompt": "A beach"})
    signals = client.predict(handle_file(str(shared_videos / CLIP)), "  ", "signals", api_name="/evaluate")
    assert "No prompt" not in status_text(signals)  # the signals backend never reads the prompt


def test_evaluate_endpoint_with_the_signals_backend(client, shared_videos):
    rec = client.predict(handle_file(str(shared_videos / CLIP)), "A beach", "signals", api_name="/evaluate")
    assert rec["backend"]["name"] == "signals"
    assert all(isinstance(rec["scores"][k], int) for k in ("technical_quality", "dynamic", "consistency"))


def test_non_video_upload_is_refused_with_a_message(client, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just text")
    with pytest.raises(AppError, match=r"notes.txt: not a video file type \(\.txt\)") as exc:
        client.predict(handle_file(str(text)), "x", api_name="/evaluate")
    assert "Traceback" not in str(exc.value)
    disguised = tmp_path / "fake.mp4"
    disguised.write_text("text with a video extension")
    with pytest.raises(AppError, match="fake.mp4: not a readable video"):
        client.predict(handle_file(str(disguised)), "x", api_name="/evaluate")


def test_oversized_upload_is_refused(client, server, shared_videos):
    import httpx

    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # the client reads the server's limit
        client.predict(handle_file(str(shared_videos / BIG)), "x", api_name="/evaluate")
    with open(shared_videos / BIG, "rb") as fh:  # a client that ignores it is stopped by the server
        resp = httpx.post(f"{server}gradio_api/upload", files={"files": (BIG, fh, "video/mp4")}, timeout=30)
    assert resp.status_code == 413 and "maximum" in resp.text.lower()


def test_choices_outside_the_offer_are_refused(client, shared_videos):
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(handle_file(str(shared_videos / CLIP)), "x", "macs", api_name="/evaluate")


def test_concurrent_requests_are_all_answered_one_model_call_at_a_time(app, client, shared_videos, monkeypatch):
    backend = app[1].evaluator().backend  # the one shared instance every request uses
    active, peak, lock = [0], [0], threading.Lock()
    real_score = backend.score

    def tracked(videos, prompts):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return real_score(videos, prompts)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(backend, "score", tracked)
    results, errors = {}, []

    def call(name):
        try:
            results[name] = client.predict(handle_file(str(shared_videos / name)), f"prompt {name}",
                                           api_name="/evaluate")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(n,)) for n in (CLIP, CLIP2, CLIP)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and set(results) == {CLIP, CLIP2}
    assert {r["prompt"] for r in results.values()} == {f"prompt {CLIP}", f"prompt {CLIP2}"}
    assert peak[0] == 1  # the queue's concurrency limit (1) held: requests waited instead of overlapping


def test_batch_endpoint_from_zip_returns_jsonl_and_csv(client, shared_videos, tmp_path):
    src = tmp_path / "batch.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.write(shared_videos / CLIP, CLIP)
        zf.write(shared_videos / CLIP2, CLIP2)
        zf.writestr("manifest.csv", f"video,prompt\n{CLIP},one\n{CLIP2},two\n")
    summary, table, jsonl, csv_path = client.predict(handle_file(str(src)), None, None, api_name="/batch")
    assert summary.startswith("2 rows: 2 scored, 0 failed (")
    assert [row[0] for row in table["data"]] == ["lavie_beach_00", "lavie_beach_10"]
    records = [json.loads(line) for line in open(jsonl)]
    assert [r["prompt"] for r in records] == ["one", "two"]
    assert [r["video"] for r in records] == [CLIP, CLIP2]  # the names in the manifest, not the server's temp folder
    assert open(csv_path).readline().startswith("id,video,prompt,status,technical_quality")


def test_batch_endpoint_from_an_allowed_folder_and_not_others(client, library):
    summary, table, jsonl, _ = client.predict(None, None, str(library.resolve()), api_name="/batch")
    assert summary.startswith("2 rows: 2 scored, 0 failed (")
    assert [json.loads(line)["prompt"] for line in open(jsonl)] == ["first", "second"]
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(None, None, "/etc", api_name="/batch")


def test_report_endpoint(client, shared_videos, tmp_path):
    results = tmp_path / "results.jsonl"
    recs = [client.predict(handle_file(str(shared_videos / n)), "a beach", api_name="/evaluate") for n in (CLIP, CLIP2)]
    results.write_text("".join(json.dumps(r) + "\n" for r in recs))
    markdown, plots, files = client.predict(handle_file(str(results)), None, None, None, 0, False, api_name="/report")
    assert "NOT A REAL EVALUATION" in markdown
    assert plots and {f.rsplit("/", 1)[-1] for f in files} >= {"report.html", "metrics.json"}
    with pytest.raises(AppError, match="choose a results file"):
        client.predict(None, None, None, None, 0, False, api_name="/report")
