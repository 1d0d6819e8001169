"""aigve.client against a real `aigve serve` (uvicorn on a free port): fake judge, and the tiny test judge."""

from __future__ import annotations

import subprocess
import sys

import pytest
from serving import CLIPS, fake_judge, running

from aigve.client import Client, ServiceError

CLIP = CLIPS / "lavie_beach_00.mp4"


@pytest.fixture(scope="module")
def judge():
    return fake_judge()


def test_client_score_pairwise_health_info(judge):
    with running(judge, root=CLIPS) as (url, _, _), Client(url) as c:
        assert c.health()["status"] == "ok"
        assert c.info()["judge"]["provenance"]["kind"] == "fake"
        body = c.score([CLIP, CLIPS / "lavie_beach_01.mp4"], "a beach", server_paths=[str(CLIP)])
        assert [r["video"] for r in body["results"]] == [str(CLIP), CLIP.name, "lavie_beach_01.mp4"]
        assert body["results"][0]["scores"] == body["results"][1]["scores"]  # the same clip, by path and upload
        pair = c.pairwise(CLIP, CLIPS / "lavie_beach_01.mp4", "a beach", idempotency_key="k1")
        assert set(pair["preferred"].values()) <= {"A", "B", "same"}
        assert c.pairwise(CLIP, CLIPS / "lavie_beach_01.mp4", "a beach", idempotency_key="k1") == pair
        by_path = c.pairwise(str(CLIP), str(CLIPS / "lavie_beach_01.mp4"), "a beach", server_paths=True)
        assert by_path["preferred"] == pair["preferred"]


def test_client_raises_service_error_with_status(judge):
    with running(judge, api_key="s" * 20) as (url, _, _):
        with Client(url) as c, pytest.raises(ServiceError) as err:
            c.info()
        assert err.value.status == 401 and "API key" in err.value.message
        with Client(url, api_key="s" * 20) as c:
            assert c.info()["auth"] is True
            with pytest.raises(ServiceError) as err:
                c.score([CLIPS / "SOURCE.md"], "x")
            assert err.value.status == 415


def test_the_client_does_not_import_torch():
    code = "import aigve.client, sys; assert 'torch' not in sys.modules and 'fastapi' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tiny_judge_served(tiny_model, tiny_sampling, one_torch_thread):
    """The tiny random-weight Qwen2.5-VL behind the service: provenance says tiny, read where it was built."""
    from aigve.run.job import ScoreJob
    from aigve.serve.launch import build_judge

    job = ScoreJob(inputs=str(CLIPS), backend="macs", progress=False, sampling=tiny_sampling,
                   backend_options={"model": str(tiny_model), "device": "cpu", "dtype": "float32"},
                   generation={"max_new_tokens": 8})
    tiny = build_judge(job)
    with running(tiny, root=CLIPS) as (url, _, _), Client(url) as c:
        info = c.info()
        assert info["judge"]["provenance"]["kind"] == "tiny" and "NOT A REAL EVALUATION" in (
            info["judge"]["not_a_real_evaluation"])
        record = c.score([], "a beach", server_paths=[str(CLIP)])["results"][0]
        assert record["provenance"] == "tiny" and record["sampling"]["frame_indices"]
