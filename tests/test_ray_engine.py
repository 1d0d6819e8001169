"""``aigve score --engine ray``: the same records as the local engine, a bad video does not stop the batch, a
killed Ray run resumes without loss, duplicates or re-scoring, and the engine is no part of the run spec."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aigve.errors import ConfigError
from aigve.run.batch import run_job
from aigve.run.job import ScoreJob

CLIPS = Path(__file__).resolve().parents[1] / "data" / "clips"


def _manifest(tmp_path: Path, bad: bool = True) -> Path:
    """The 11 LaVie clips (absolute paths) and, with ``bad``, one file that is not a video."""
    lines = ["video,prompt"]
    for row in (CLIPS / "manifest.csv").read_text().splitlines()[1:]:
        name, prompt = row.split(",", 1)
        lines.append(f"{CLIPS / name},{prompt}")
    if bad:
        broken = tmp_path / "broken.mp4"
        broken.write_bytes(b"this is not a video" * 100)
        lines.append(f"{broken},a broken clip")
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _scores(path: Path) -> dict[str, tuple]:
    return {r["id"]: (r["scores"], r["comments"], r["error"] and r["error"]["stage"],
                      (r.get("sampling") or {}).get("frame_indices")) for r in _records(path)}


def test_missing_ray_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from aigve.run import ray_engine

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"aigve-macs\[ray\]"):
        ray_engine.import_ray()


def test_engine_is_a_setting_not_part_of_the_spec(tmp_path: Path) -> None:
    local = ScoreJob(str(CLIPS), backend="fake", out=tmp_path / "o")
    ray = local.replace(engine="ray", ray_actors=3, address="auto")
    assert local.spec()[0] == ray.spec()[0]
    assert ray.spec()[1] == local.spec()[1]  # the engine goes into run.json's settings when the run starts
    with pytest.raises(ConfigError, match="engine"):
        local.replace(engine="spark")
    with pytest.raises(ConfigError, match="ray_actors"):
        local.replace(ray_actors=0)


def test_ray_equals_local_and_a_bad_video_does_not_stop_it(tmp_path: Path) -> None:
    """Ray in local mode (2 CPUs) with the fake backend: same ids, scores, comments and frames as the local
    engine; the broken file gets its error record and the other 11 are scored. Then a local resume of the Ray
    folder (engine changed) is accepted and skips everything done."""
    ray = pytest.importorskip("ray")
    manifest = _manifest(tmp_path)
    local = run_job(ScoreJob(str(manifest), backend="fake", out=tmp_path / "local", progress=False))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        job = ScoreJob(str(manifest), backend="fake", out=tmp_path / "ray", progress=False, engine="ray",
                       batch_size=2)
        remote = run_job(job)
    finally:
        ray.shutdown()
    assert (remote.summary.scored, remote.summary.failed) == (11, 1) == (local.summary.scored, local.summary.failed)
    assert _scores(tmp_path / "ray" / "results.jsonl") == _scores(tmp_path / "local" / "results.jsonl")
    info = json.loads((tmp_path / "ray" / "run.json").read_text())
    assert info["settings"]["engine"]["name"] == "ray" and info["evaluator"]["name"] == "fake"
    assert json.loads((tmp_path / "local" / "run.json").read_text())["settings"]["engine"] == {"name": "local"}
    assert (tmp_path / "ray" / "results.csv").exists()
    again = run_job(job.replace(engine="local", resume=True))  # the failed one is retried, the rest skipped
    assert (again.summary.skipped, again.summary.failed) == (11, 1)
    assert sorted(r["id"] for r in _records(tmp_path / "ray" / "results.jsonl")) == sorted(_scores(tmp_path / "local" / "results.jsonl"))


def _score_cmd(manifest: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "aigve", "score", str(manifest), "--backend", "fake", "--out", str(out),
            "--engine", "ray", "--ray-num-cpus", "2", "--no-progress", "--backend-option", "delay_s=0.4", *extra]


@pytest.mark.slow
def test_killed_ray_run_resumes_without_loss_duplicates_or_rescoring(tmp_path: Path) -> None:
    if not _has_ray():
        pytest.skip("ray not installed")
    manifest = _manifest(tmp_path, bad=False)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(_score_cmd(manifest, out), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray processes it started
    proc.wait()
    before = {r["id"]: r for r in _records(results)}
    assert 3 <= len(before) < 11
    done = subprocess.run(_score_cmd(manifest, out, "--resume"), env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(before)} skipped (resume)" in done.stdout
    after = _records(results)
    ids = [r["id"] for r in after]
    assert len(ids) == len(set(ids)) == 11  # every id exactly once
    by_id = {r["id"]: r for r in after}
    for ident, record in before.items():  # done items kept as written, not scored again (same timings)
        assert by_id[ident] == record


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True
