"""`aigve serve` driven over real HTTP on a free loopback port: scoring, limits, errors, metrics, shutdown."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import httpx
import pytest
from serving import CLIPS, GatedJudge, fake_judge, running

from aigve.aspects import ASPECT_KEYS
from aigve.serve.batcher import BatchSettings
from aigve.webui.safety import Limits

CLIP = CLIPS / "lavie_beach_00.mp4"
CLIP_B = CLIPS / "lavie_beach_01.mp4"


@pytest.fixture(scope="module")
def judge():
    return fake_judge()


@pytest.fixture(scope="module")
def server(judge):
    with running(judge, root=CLIPS, batch=BatchSettings(max_batch=8, max_wait_s=0.005, queue_size=64)) as (url, _, _):
        yield url


def _upload(path=CLIP, name=None):
    return ("files", (name or path.name, path.read_bytes(), "video/mp4"))


def test_score_an_upload_and_a_server_path(server):
    r = httpx.post(f"{server}/v1/score", data={"prompts": ["a beach"], "paths": [str(CLIP_B)]},
                   files=[_upload()], timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    a, b = body["results"]
    assert a["video"] == str(CLIP_B) and b["video"] == CLIP.name  # as the client named them, paths first
    for rec in (a, b):
        assert set(ASPECT_KEYS) <= set(rec["scores"]) and rec["comments"] and rec["error"] is None
        assert rec["provenance"] == "fake" and rec["sampling"]["frame_indices"]
    assert body["judge"]["provenance"]["kind"] == "fake" and body["judge"]["not_a_real_evaluation"]
    assert body["judge"]["backend"] == "fake"


def test_pairwise_prefers_per_aspect(server):
    r = httpx.post(f"{server}/v1/pairwise", data={"prompt": "a beach", "paths": [str(CLIP), str(CLIP_B)]}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["preferred"].values()) <= {"A", "B", "same"} and "overall" in body["preferred"]
    a, b = body["a"]["scores"], body["b"]["scores"]
    for k in ASPECT_KEYS:
        if k in a and k in b:
            assert body["preferred"][k] == ("A" if a[k] > b[k] else "B" if a[k] < b[k] else "same")


def test_health_info_openapi(server):
    assert httpx.get(f"{server}/v1/health").json()["status"] == "ok"
    info = httpx.get(f"{server}/v1/info").json()
    assert info["judge"]["provenance"]["kind"] == "fake" and info["versions"]["aigve"]
    assert info["limits"]["queue_size"] == 64 and info["paths_allowed"] is True
    schema = httpx.get(f"{server}/openapi.json").json()
    assert {"/v1/score", "/v1/pairwise", "/v1/health", "/v1/info"} <= set(schema["paths"])


@pytest.mark.parametrize("case", ["non-video", "outside-root", "dotdot", "missing", "garbage-mp4", "no-video",
                                  "prompt-count"])
def test_refusals(server, tmp_path, case):
    data, files = {}, []
    if case == "non-video":
        files = [("files", ("notes.txt", b"hello", "text/plain"))]
    elif case == "outside-root":
        data = {"paths": [str(CLIPS.parent / "samples" / "manifest.csv")]}
    elif case == "dotdot":
        data = {"paths": [str(CLIPS / ".." / "clips" / CLIP.name)]}
    elif case == "missing":
        data = {"paths": [str(CLIPS / "nope.mp4")]}
    elif case == "garbage-mp4":
        files = [("files", ("broken.mp4", b"not a video at all", "video/mp4"))]
    elif case == "prompt-count":
        data = {"prompts": ["a", "b"], "paths": [str(CLIP), str(CLIP), str(CLIP)]}
    r = httpx.post(f"{server}/v1/score", data=data, files=files or None, timeout=30)
    expected = {"non-video": 415, "outside-root": 403, "dotdot": 403, "missing": 422, "garbage-mp4": 422,
                "no-video": 422, "prompt-count": 422}[case]
    assert r.status_code == expected, r.text
    assert r.json()["detail"] and "Traceback" not in r.text  # one line, the path only as the client gave it


def test_oversize_and_too_long(judge):
    with running(judge, limits=Limits(max_upload_mb=0.05, max_duration_s=1.0)) as (url, _, _):
        r = httpx.post(f"{url}/v1/score", files=[_upload()], timeout=30)
        assert r.status_code == 413 and "MB upload limit" in r.json()["detail"]
    with running(judge, limits=Limits(max_duration_s=0.5)) as (url, _, _):
        r = httpx.post(f"{url}/v1/score", files=[_upload()], timeout=30)
        assert r.status_code == 422 and "s long" in r.json()["detail"]
    with running(judge, max_videos=2) as (url, _, _):
        r = httpx.post(f"{url}/v1/score", files=[_upload()] * 3, timeout=30)
        assert r.status_code == 413 and "at most 2" in r.json()["detail"]


def test_uploads_only_without_root(judge):
    with running(judge) as (url, _, _):
        r = httpx.post(f"{url}/v1/score", data={"paths": [str(CLIP)]}, timeout=30)
        assert r.status_code == 403 and "uploads only" in r.json()["detail"]


def test_api_key(judge):
    key = "k" * 32
    with running(judge, root=CLIPS, api_key=key) as (url, _, _):
        data = {"paths": [str(CLIP)]}
        assert httpx.post(f"{url}/v1/score", data=data).status_code == 401
        assert httpx.post(f"{url}/v1/score", data=data, headers={"X-API-Key": "k" * 31 + "x"}).status_code == 401
        assert httpx.get(f"{url}/v1/info").status_code == 401
        assert httpx.get(f"{url}/v1/health").status_code == 200  # liveness probes carry no key
        ok = httpx.post(f"{url}/v1/score", data=data, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert ok.status_code == 200


def test_idempotency_key_scores_once(judge):
    gated = GatedJudge(judge)
    gated.gate.set()
    with running(gated, root=CLIPS) as (url, _, _):
        first = httpx.post(f"{url}/v1/score", data={"paths": [str(CLIP)], "prompts": ["p"]},
                           headers={"Idempotency-Key": "abc"}, timeout=30)
        again = httpx.post(f"{url}/v1/score", files=[_upload()], data={"prompts": ["p"]},
                           headers={"Idempotency-Key": "abc"}, timeout=30)  # same bytes, same prompt: same request
        assert first.status_code == again.status_code == 200
        assert again.headers["Idempotent-Replay"] == "true" and again.json() == first.json()
        assert sum(gated.calls) == 1
        other = httpx.post(f"{url}/v1/score", data={"paths": [str(CLIP)], "prompts": ["other"]},
                           headers={"Idempotency-Key": "abc"}, timeout=30)
        assert other.status_code == 409


def test_timeout_then_collect_with_the_same_key(judge):
    gated = GatedJudge(judge)
    with running(gated, root=CLIPS, timeout_s=0.3) as (url, _, _):
        data, headers = {"paths": [str(CLIP)]}, {"Idempotency-Key": "slow"}
        r = httpx.post(f"{url}/v1/score", data=data, headers=headers, timeout=30)
        assert r.status_code == 504 and "Idempotency-Key" in r.json()["detail"]
        gated.gate.set()
        again = httpx.post(f"{url}/v1/score", data=data, headers=headers, timeout=30)
        assert again.status_code == 200 and sum(gated.calls) == 1


def test_full_queue_is_429_with_retry_after(judge):
    gated = GatedJudge(judge)
    with running(gated, root=CLIPS, batch=BatchSettings(max_batch=1, queue_size=3)) as (url, _, _):
        with cf.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(httpx.post, f"{url}/v1/score", data={"paths": [str(CLIP)]}, timeout=30)
                       for _ in range(8)]
            while httpx.get(f"{url}/v1/health").json()["queue_depth"] < 3:
                pass
            refused = httpx.post(f"{url}/v1/score", data={"paths": [str(CLIP)]}, timeout=30)
            gated.gate.set()
            codes = sorted(f.result().status_code for f in futures)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert codes.count(200) == 3 and set(codes) == {200, 429}


@pytest.mark.parametrize("clients,each", [(8, 4), pytest.param(20, 10, marks=pytest.mark.slow)])
def test_many_clients_all_answered(judge, clients, each):
    """200 requests from 20 client threads (slow tier; 32 from 8 by default), a queue of 2x the clients."""
    with running(judge, root=CLIPS, batch=BatchSettings(max_batch=8, queue_size=2 * clients)) as (url, _, _):
        clips = sorted(CLIPS.glob("*.mp4"))

        def client(i):
            with httpx.Client(base_url=url, timeout=60) as c:
                return [c.post("/v1/score", data={"paths": [str(clips[(i + j) % len(clips)])], "prompts": ["x"]}
                               ).status_code for j in range(each)]

        with cf.ThreadPoolExecutor(clients) as pool:
            codes = [c for batch in pool.map(client, range(clients)) for c in batch]
        assert len(codes) == clients * each and set(codes) == {200}  # N clients never exceed a queue of 2N
        metrics = httpx.get(f"{url}/metrics").text
        assert f'aigve_requests_total{{endpoint="/v1/score",status="200"}} {clients * each}.0' in metrics
        assert "aigve_batch_size_count" in metrics and "aigve_queue_depth 0.0" in metrics
        assert "aigve_request_seconds_bucket" in metrics and "aigve_judge_seconds_count" in metrics


def test_graceful_shutdown_answers_every_accepted_request(judge):
    gated = GatedJudge(judge, delay_s=0.05)
    with running(gated, root=CLIPS, batch=BatchSettings(max_batch=2, queue_size=64)) as (url, server, thread):
        with cf.ThreadPoolExecutor(10) as pool:
            futures = [pool.submit(httpx.post, f"{url}/v1/score", data={"paths": [str(CLIP)]}, timeout=60)
                       for _ in range(10)]
            while httpx.get(f"{url}/v1/health").json()["queue_depth"] < 10:
                pass
            server.should_exit = True  # what uvicorn's SIGTERM handler sets
            threading.Timer(0.2, gated.gate.set).start()
            codes = [f.result().status_code for f in futures]
        thread.join(30)
        assert codes == [200] * 10 and not thread.is_alive()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/v1/health")


def test_bench_serve_prints_the_table(capsys):
    from aigve.cli import main

    code = main(["bench", str(CLIPS), "--serve", "--limit", "2", "--serve-requests", "4", "--serve-clients", "1,2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "in-process, 1 per call" in out and "in-process, batch 8" in out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("served")] == ["1", "2"]


def _serve_process(*flags):
    import os
    import subprocess
    import sys
    import time

    from conftest import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aigve", "serve", "--backend", "fake", "--port", str(port),
                             "--root", str(CLIPS), *flags], env={**os.environ, "PYTHONPATH": str(CLIPS.parents[1])},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/v1/health", timeout=1)
            return proc, url
        except httpx.TransportError:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_the_command_serves_and_sigterm_finishes_accepted_requests():
    import signal

    proc, url = _serve_process("--max-batch", "2")
    try:
        with cf.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(httpx.post, f"{url}/v1/score", data={"paths": [str(CLIP)]}, timeout=60)
                       for _ in range(6)]
            while httpx.get(f"{url}/v1/health").json()["queue_depth"] == 0 and not all(f.done() for f in futures):
                pass
            proc.send_signal(signal.SIGTERM)
            codes = [f.result().status_code for f in futures]
        assert codes == [200] * 6
        assert proc.wait(60) == 0
        assert "NOT A REAL EVALUATION" in proc.stderr.read()
    finally:
        proc.kill()


def test_a_public_host_without_a_key_is_refused_before_loading(tmp_path, capsys):
    from aigve.cli import main

    assert main(["serve", "--backend", "fake", "--host", "0.0.0.0"]) == 2
    assert "--api-key-file" in capsys.readouterr().err
    short = tmp_path / "key"
    short.write_text("abc\n")
    assert main(["serve", "--backend", "fake", "--api-key-file", str(short)]) == 2
    assert "16 characters" in capsys.readouterr().err


@pytest.mark.slow
def test_ui_is_mounted_on_the_same_server():
    proc, url = _serve_process("--ui")
    try:
        assert httpx.get(f"{url}/ui/", timeout=30, follow_redirects=True).status_code == 200
        assert httpx.get(f"{url}/v1/health").status_code == 200
    finally:
        proc.terminate()
        proc.wait(30)


def test_no_upload_copy_is_left_behind(judge):
    with running(judge, root=CLIPS) as (url, server, _):
        scratch = server.config.app.state.scorer.scratch
        codes = [httpx.post(f"{url}/v1/score", data=data, files=files, timeout=30).status_code for data, files in (
            ({}, [_upload()]), ({"paths": [str(CLIP)]}, [_upload(), ("files", ("x.txt", b"x", "text/plain"))]),
            ({}, [_upload()] * 2))]
        assert codes == [200, 415, 200] and list(scratch.iterdir()) == []
    assert not scratch.exists()


class PairJudge:
    """A stand-in for a pairwise judge profile (unifiedreward-video): says "B" for every pair it is shown."""

    def __init__(self, inner):
        self.described = {**inner.describe(), "profile": "unifiedreward-video", "videos_per_item": 2,
                          "judged_aspects": []}
        self.items: list = []

    def describe(self):
        return self.described

    def evaluate_many(self, items, *, batch_size=1):
        from aigve.results import EvaluationResult

        for it in items:
            self.items.append(it)
            yield EvaluationResult(id=it.id, video=it.video, prompt=it.prompt, second=it.second, scores={},
                                   comments={}, judged_aspects=[], preference={"overall": "B"},
                                   backend=self.described)


def test_a_pairwise_judge_answers_pairwise_requests_in_one_call(judge, tmp_path):
    pair = PairJudge(judge)
    with running(pair, root=CLIPS) as (url, _, _):
        r = httpx.post(f"{url}/v1/pairwise", data={"prompt": "a beach", "paths": [str(CLIP)]},
                       files=[_upload(CLIP_B, name="mine.mp4")], timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["preferred"] == {"overall": "B"} and "a" not in body
        assert body["pair"]["video"] == str(CLIP) and body["pair"]["second"] == "mine.mp4"  # the client's names
        (item,) = pair.items
        assert item.video == str(CLIP) and item.second.endswith(".mp4") and item.second != str(CLIP)
        r = httpx.post(f"{url}/v1/score", data={"prompts": ["a beach"], "paths": [str(CLIP)]}, timeout=30)
        assert r.status_code == 422 and "/v1/pairwise" in r.json()["detail"]
