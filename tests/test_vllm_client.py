"""The vllm backend as a client of a stub OpenAI-compatible server on 127.0.0.1 (no vllm, no GPU needed)."""

from __future__ import annotations

import base64
import io
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from aigve.aspects import ASPECT_KEYS
from aigve.backends.vllm import ServerError, VllmBackend, expected_from_logprobs, vllm_unavailable_reason
from aigve.config import SamplingConfig
from aigve.errors import ModelLoadError
from aigve.evaluator import Evaluator
from aigve.prompt import format_answer
from aigve.video import load_video

ANSWER = format_answer(dict.fromkeys(ASPECT_KEYS, 4), dict.fromkeys(ASPECT_KEYS, "fine"))


def _logprobs(text: str) -> list[dict]:
    """One entry per character (a toy tokenisation); at each "4" the digits 3/4/5 share the mass."""
    content = []
    for ch in text:
        top = [{"token": ch, "logprob": 0.0}]
        if ch == "4":
            top = [{"token": "4", "logprob": math.log(0.5)}, {"token": "3", "logprob": math.log(0.3)},
                   {"token": "5", "logprob": math.log(0.2)}]
        content.append({"token": ch, "logprob": top[0]["logprob"], "top_logprobs": top})
    return content


class Stub:
    """Records requests, fails the first ``fail_first`` chat requests with 503, tracks concurrency."""

    def __init__(self, fail_first: int = 0, delay_s: float = 0.0, model_id: str = "stub-judge",
                 answer: str = ANSWER):
        self.model_id, self.answer = model_id, answer
        self.requests: list[dict] = []
        self.fail_first, self.delay_s = fail_first, delay_s
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()


@pytest.fixture()
def server():
    stubs: list = []

    def start(**kw):
        stub = Stub(**kw)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"data": [{"id": stub.model_id}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.requests.append(body)
                    fail = stub.fail_first > 0
                    stub.fail_first -= fail
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                time.sleep(stub.delay_s)
                with stub.lock:
                    stub.in_flight -= 1
                if fail:
                    return self._send(503, {"error": "warming up"})
                self._send(200, {"choices": [{"message": {"content": stub.answer}, "finish_reason": "stop",
                                              "logprobs": {"content": _logprobs(stub.answer)}}],
                                 "usage": {"prompt_tokens": 700, "completion_tokens": len(stub.answer)}})

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        stubs.append(httpd)
        return stub, f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in stubs:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def clip(shared_videos, tiny_sampling):
    return load_video(shared_videos / "lavie_beach_03.mp4", SamplingConfig.from_dict({**tiny_sampling, "fps": 2.0}))


def test_client_request_and_result(server, clip):
    stub, url = server()
    backend = VllmBackend(server_url=url, generation={"force_new_tokens": 64})
    out = backend.score([clip], ["beach at dusk"])[0]
    assert backend.describe()["model"] == "stub-judge" and backend.describe()["mode"] == "client"
    body = stub.requests[0]
    assert body["model"] == "stub-judge"
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "repetition_penalty", "seed")} == \
        {"temperature": 0.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "seed": 0}
    assert body["max_tokens"] == body["min_tokens"] == 64 and body["top_logprobs"] == 20
    area, t = clip.frames.shape[1] * clip.frames.shape[2], clip.frames.shape[0]
    assert body["mm_processor_kwargs"] == {
        "fps": 2.0, "do_sample_frames": False, "size": {"shortest_edge": area, "longest_edge": area},
        "video_metadata": [{"fps": 2.0, "total_num_frames": t, "frames_indices": list(range(t)), "duration": t / 2.0}]}
    user, = body["messages"]  # default profile macs-card: no explicit system turn, video then the card's text
    from aigve.judges.profiles import get_profile

    assert user["role"] == "user" and user["content"][1]["text"] == get_profile("macs-card").instruction_for("beach at dusk")
    assert backend.describe()["profile"] == "macs-card"
    url_text = user["content"][0]["video_url"]["url"]
    assert url_text.startswith("data:video/jpeg;base64,")
    frames = url_text.split(",", 1)[1].split(",")
    assert len(frames) == clip.frames.shape[0]
    first = np.asarray(Image.open(io.BytesIO(base64.b64decode(frames[0]))))
    assert first.shape == clip.frames.shape[1:]
    assert np.abs(first.astype(int) - clip.frames[0].astype(int)).mean() < 8  # JPEG, not bit-exact
    assert out.text == ANSWER and out.num_generated_tokens == len(ANSWER)
    for key in ASPECT_KEYS:  # 0.5*4 + 0.3*3 + 0.2*5
        assert out.expected_scores[key] == pytest.approx(3.9) and out.confidence[key] == pytest.approx(0.5)


def test_retries_with_backoff_then_succeeds(server, clip):
    stub, url = server(fail_first=2)
    backend = VllmBackend(server_url=url, served_model_name="judge", retry_backoff_s=0.01)
    assert backend.score([clip], ["p"])[0].text == ANSWER
    assert len(stub.requests) == 3


def test_gives_up_with_a_clear_error(server, clip):
    stub, url = server(fail_first=10)
    backend = VllmBackend(server_url=url, served_model_name="judge", retry_backoff_s=0.0, max_retries=1)
    with pytest.raises(ServerError, match="HTTP 503 after 2 attempt"):
        backend.score([clip], ["p"])
    with pytest.raises(ServerError, match="cannot reach"):
        VllmBackend(server_url="http://127.0.0.1:9", max_retries=0)  # nothing listens on the discard port


def test_concurrency_limit_and_evaluator(server, shared_videos, tiny_sampling):
    stub, url = server(delay_s=0.1)
    backend = VllmBackend(server_url=url, served_model_name="judge", concurrency=2)
    items = [(shared_videos / f"lavie_beach_0{i}.mp4", "a beach", f"v{i}") for i in range(4)]
    results = list(Evaluator(backend, tiny_sampling).evaluate_many(items, batch_size=4))
    assert [r.id for r in results] == ["v0", "v1", "v2", "v3"] and all(r.ok for r in results)
    assert results[0].scores == dict.fromkeys(ASPECT_KEYS, 4)
    assert stub.max_in_flight == 2


@pytest.mark.parametrize("fmt", ["png", "PNG", "webp", None])
def test_only_jpeg_frame_lists(fmt):
    """vLLM reads only data:video/jpeg URLs as frame lists; a video/png URL is decoded as one broken file."""
    from aigve.errors import ConfigError

    with pytest.raises(ConfigError, match="frame_format.*jpeg"):
        VllmBackend(server_url="http://127.0.0.1:9", served_model_name="judge", frame_format=fmt)


def test_sampling_fields_sent_explicitly(server, clip):
    stub, url = server()
    gen = {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 0, "repetition_penalty": 1.05,
           "max_new_tokens": 300}
    VllmBackend(server_url=url, served_model_name="judge", generation=gen).score([clip], ["p"])
    VllmBackend(server_url=url, served_model_name="judge", generation={**gen, "top_k": 20}).score([clip], ["p"])
    first, second = stub.requests
    assert {k: first[k] for k in ("temperature", "top_p", "top_k", "repetition_penalty", "seed", "max_tokens")} == \
        {"temperature": 0.7, "top_p": 0.8, "top_k": -1, "repetition_penalty": 1.05, "seed": 0, "max_tokens": 300}
    assert "min_tokens" not in first and second["top_k"] == 20


def test_server_side_processor_gets_the_spacing(server, clip, tiny_model):
    """What a vLLM server does with the request for Qwen2.5-VL: decode the JPEG frame list, run the HF
    processor with the request's mm_processor_kwargs (JSON round-tripped). Its second_per_grid_ts must be
    temporal_patch / sampled fps = 2 / 2.0 = 1.0, not transformers>=5's 24-fps 0.0833."""
    from transformers import AutoProcessor

    stub, url = server()
    VllmBackend(server_url=url, served_model_name="judge").score([clip], ["p"])
    body = json.loads(json.dumps(stub.requests[0]))
    encoded = body["messages"][-1]["content"][0]["video_url"]["url"].split(",", 1)[1].split(",")
    frames = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(f))).convert("RGB")) for f in encoded])
    processor = AutoProcessor.from_pretrained(tiny_model)
    inputs = processor(text=["<|vision_start|><|video_pad|><|vision_end|>p"], videos=[frames], return_tensors="pt",
                       **body["mm_processor_kwargs"])
    assert [float(x) for x in inputs["second_per_grid_ts"]] == [pytest.approx(1.0)]
    h, w = clip.frames.shape[1:3]
    assert inputs["video_grid_thw"].tolist() == [[clip.frames.shape[0] // 2, h // 14, w // 14]]


def test_expected_from_logprobs_skips_digits_outside_top_k():
    tokens = list('{"dynamic": {"score": 2}}')
    top = [{t: 0.0} for t in tokens]
    top[tokens.index("2")] = {"2": math.log(0.9), "x": math.log(0.1)}
    expected, confidence = expected_from_logprobs(tokens, top)
    assert expected == {"dynamic": pytest.approx(2.0)} and confidence["dynamic"] == pytest.approx(1.0)


def test_in_process_fails_clearly_without_vllm():
    reason = vllm_unavailable_reason()
    if reason is None:
        pytest.skip("vllm and a GPU are present here")
    with pytest.raises(ModelLoadError, match="server_url"):
        VllmBackend(model="some/model")


def test_resume_against_a_server_of_another_model_is_refused(server, shared_videos, tmp_path, capsys):
    """server_url may change between resumes (per-node servers, a moved server); the served model may not."""
    from aigve.cli import main

    _, judge_a = server(model_id="judge-a")
    _, also_a = server(model_id="judge-a")
    _, judge_b = server(model_id="judge-b")
    manifest, out = shared_videos / "manifest.csv", tmp_path / "run"

    def score(url: str, *extra: str) -> int:
        return main(["score", str(manifest), "--backend", "vllm", "--backend-option", f"server_url={url}",
                     "--out", str(out), "--no-progress", "--max-frames", "4", "--max-pixels", str(56 * 56),
                     "--min-pixels", str(28 * 28), *extra])

    assert score(judge_a, "--limit", "2") == 0
    before = (out / "results.jsonl").read_bytes()
    capsys.readouterr()
    assert score(judge_b, "--limit", "3", "--resume") == 2
    err = capsys.readouterr().err
    assert "'judge-a'" in err and "'judge-b'" in err
    assert (out / "results.jsonl").read_bytes() == before
    assert score(also_a, "--limit", "3", "--resume") == 0  # another server of the same model
    assert len((out / "results.jsonl").read_text().splitlines()) == 3


def test_digit_mass_from_logprobs_is_the_digits_share_of_the_vocabulary():
    from aigve.backends.vllm import digit_mass_from_logprobs

    tokens = list('{"dynamic": {"score": 2}}')
    top = [{t: 0.0} for t in tokens]
    top[tokens.index("2")] = {"2": math.log(0.6), "3": math.log(0.2), "x": math.log(0.2)}
    assert digit_mass_from_logprobs(tokens, top) == {"dynamic": pytest.approx(0.8)}


def test_client_runs_a_named_profile(server, clip):
    """``profile``: its message layout, instruction, frame rules and decoding all reach the request."""
    from aigve.judges.profiles import get_profile

    stub, url = server()
    aigve = get_profile("aigve")
    backend = VllmBackend(server_url=url, served_model_name="judge", profile="aigve")
    backend.score([clip], ["beach at dusk"])
    system, user = stub.requests[0]["messages"]
    assert system == {"role": "system", "content": aigve.system_turn}
    assert user["content"][1]["text"] == aigve.instruction_for("beach at dusk")
    assert stub.requests[0]["max_tokens"] == aigve.max_new_tokens
    assert backend.describe()["profile_sha256"] == aigve.content_sha256() and backend.sampling_overrides() == {}
    card = VllmBackend(server_url=url, served_model_name="judge", profile="vs2-harness")
    over = SamplingConfig.from_dict(card.sampling_overrides())  # 2 fps from t=0, last frame repeated, 476 x 840
    assert (over.fps, over.start, over.even_rule, over.spacing) == (2.0, "zero", "repeat_last", "declared")
    assert (over.fixed_height, over.fixed_width) == (476, 840)
    card.score([clip], ["p"])
    body = stub.requests[1]
    assert body["max_tokens"] == 1500 and body["repetition_penalty"] == 1.0 and body["temperature"] == 0.0


def test_client_records_videoscore2s_own_dimensions_and_refuses_a_pairwise_profile(server, shared_videos):
    from aigve.errors import ConfigError

    stub, url = server(answer="Sharp frames.\nvisual quality: 4; text-to-video alignment: 3, "
                              "physical/common-sense consistency: 2")
    backend = VllmBackend(server_url=url, served_model_name="judge", profile="videoscore2")
    evaluator = Evaluator(backend, {"max_frames": 4, "min_frames": 2, "max_pixels": 56 * 56, "min_pixels": 28 * 28},
                          prefetch=0)
    result = evaluator.evaluate(shared_videos / "lavie_beach_03.mp4", "a beach")
    assert result.scores == {"visual_quality": 4, "text_alignment": 3, "physical_consistency": 2}
    assert result.aspect_set["keys"] == ["visual_quality", "text_alignment", "physical_consistency"]
    assert result.status == "ok" and result.expected_scores == {}  # soft scores need the logits: macs only
    assert stub.requests[0]["messages"][0]["content"][1]["text"].startswith("\n    You are an expert")
    with pytest.raises(ConfigError, match="one video per request"):
        VllmBackend(server_url=url, served_model_name="judge", profile="unifiedreward-video")


def test_score_profile_flag_reaches_a_vllm_run_spec():
    """``aigve score --backend vllm --profile NAME``: accepted, and the spec records the profile and its hash."""
    from aigve.cli import build_parser
    from aigve.commands.options import backend_options, run_spec
    from aigve.judges.profiles import get_profile

    args = build_parser().parse_args(["score", "c.mp4", "--backend", "vllm", "--profile", "vs2-harness",
                                      "--backend-option", "server_url=http://127.0.0.1:9"])
    assert backend_options(args)["profile"] == "vs2-harness"
    spec = run_spec(args)[0]
    assert spec["profile"] == "vs2-harness" and spec["profile_sha256"] == get_profile("vs2-harness").content_sha256()
    assert spec["generation"]["max_new_tokens"] == 1500 and spec["model"] is None
