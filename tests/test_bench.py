"""``aigve bench`` end to end on the tiny random checkpoint, plus its pure parts (agreement, table, memory)."""

from __future__ import annotations

import contextlib
import io
import json
import time

import numpy as np
import pytest

from aigve.bench.harness import BenchConfig, PathResult, compare_paths, score_agreement
from aigve.bench.memory import PeakMemory
from aigve.bench.table import render_markdown, render_table
from aigve.cli import main
from aigve.errors import ConfigError

NEW_TOKENS = 8


@pytest.fixture(scope="module")
def bench_report(tiny_model, shared_videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["bench", str(shared_videos / "manifest.csv"), "--model", str(tiny_model), "--limit", "2",
                     "--batch-size", "2", "--warmup", "0", "--force-new-tokens", str(NEW_TOKENS), "--json", str(out),
                     "--max-frames", "4", "--max-pixels", str(56 * 56), "--min-pixels", str(28 * 28)])
    assert code == 0
    return {**json.loads(out.read_text()), "printed": printed.getvalue()}


def test_bench_runs_every_path_side_by_side(bench_report):
    paths = {p["name"]: p for p in bench_report["paths"]}
    assert list(paths) == ["reference", "default", "batched", "scores-only", "vllm"]
    for name in ("reference", "default", "batched", "scores-only"):
        p = paths[name]
        assert p["status"] == "ok" and p["videos"] == 2 and p["failed"] == 0
        assert p["videos_per_s"] > 0 and p["peak_rss_mib"] > 0 and p["visual_tokens"] > 0
        assert set(p["stage_s_per_video"]) == {"decode_s", "preprocess_s", "model_s", "parse_s"}
        assert 0 <= p["overhead_fraction"] < 1
    for name in ("reference", "default", "batched"):
        assert paths[name]["generated_tokens"] == 2 * NEW_TOKENS and paths[name]["tokens_per_s"] > 0
    assert paths["scores-only"]["generated_tokens"] == 0 and paths["batched"]["batch_size"] == 2
    assert paths["reference"]["speedup_vs_reference"] == pytest.approx(1.0)
    assert paths["vllm"]["status"] == "skipped" and paths["vllm"]["reason"]
    assert bench_report["environment"]["device"] == "cpu"
    printed = bench_report["printed"]
    assert printed.startswith("path ") and "x ref videos/s" in printed
    for label in ("(a) reference: released usage", "(b) aigve default", "(c) aigve batched", "(d) score-only",
                  "(e) vLLM: skipped - vllm is not installed"):
        assert label in printed
    assert render_table(bench_report) == printed.rstrip("\n")
    assert "1 fps" in bench_report["reference"] and "second_per_grid_ts 2.0" in bench_report["reference"]
    assert f"(a) reference = {bench_report['reference']}" in printed


def test_batched_and_unbatched_generate_identical_text(bench_report):
    paths = {p["name"]: p for p in bench_report["paths"]}
    default = {v["id"]: v["text"] for v in paths["default"]["per_video"]}
    batched = {v["id"]: v["text"] for v in paths["batched"]["per_video"]}
    assert default == batched and len(set(default.values())) > 1  # different videos, different text


def test_scores_only_records_expected_scores(bench_report):
    so = next(p for p in bench_report["paths"] if p["name"] == "scores-only")
    for v in so["per_video"]:
        assert all(0 <= e <= 5 for e in v["expected_scores"].values())
    assert bench_report["agreement"]["n"] == 0 and "random-weight" in bench_report["agreement"]["note"]


def test_score_agreement_hand_values():
    a = score_agreement([1.2, 3.6, 4.9, 0.4], [1, 4, 5, 1])
    assert a["n"] == 4 and a["mean_abs_diff"] == pytest.approx((0.2 + 0.4 + 0.1 + 0.6) / 4)
    assert a["spearman"] == pytest.approx(np.corrcoef([2, 3, 4, 1], [1.5, 3, 4, 1.5])[0, 1])  # ranks, ties averaged
    assert a["exact_match"] == pytest.approx(3 / 4)
    assert score_agreement([2.0, 2.0], [1, 3])["spearman"] is None  # constant input: undefined
    assert score_agreement([], [])["n"] == 0
    with pytest.raises(ValueError):
        score_agreement([1.0], [])


def test_compare_paths_pairs_by_video_and_aspect():
    so = PathResult("scores-only", "d", per_video=[{"id": "a", "expected_scores": {"physics": 2.5, "overall": None}},
                                                   {"id": "b", "expected_scores": {"physics": 4.0}}])
    gen = PathResult("default", "b", per_video=[{"id": "b", "scores": {"physics": 5}},
                                                {"id": "a", "scores": {"physics": 2, "overall": 3}}])
    a = compare_paths(so, gen)
    assert a["n"] == 2 and a["mean_abs_diff"] == pytest.approx(0.75) and a["spearman"] == pytest.approx(1.0)
    assert compare_paths(None, gen)["n"] == 0


def test_render_markdown_lists_skips():
    report = {"paths": [PathResult("vllm", "(e) vLLM", status="skipped", reason="vllm is not installed").to_dict()],
              "agreement": {"n": 0, "note": "none"}, "environment": {"device": "cpu"}}
    md = render_markdown(report)
    assert md.startswith("| path |") and "(e) vLLM: skipped - vllm is not installed" in md


def test_peak_memory_sees_an_allocation():
    with PeakMemory(interval_s=0.005, cuda=False) as mem:
        block = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, every page touched
        deadline = time.monotonic() + 5  # give the sampler thread time to see it, even on a loaded machine
        while mem._peak < (mem.start_rss_mib + 48) * 2**20 and time.monotonic() < deadline:
            time.sleep(0.01)
        del block
    assert mem.peak_rss_mib >= mem.start_rss_mib + 48 and mem.peak_gpu_mib is None


def test_bad_config(shared_videos, capsys):
    with pytest.raises(ConfigError, match="unknown bench path"):
        BenchConfig(model="x", paths=("reference", "warp"))
    assert main(["bench", str(shared_videos / "manifest.csv")]) == 2
    assert "give exactly one of --model DIR or --random-init-arch" in capsys.readouterr().err


@pytest.mark.gpu
def test_bench_on_cuda_in_bfloat16(tiny_model, shared_videos):
    """The GPU code paths: bf16 weights, CUDA peak memory per path (runs only where a GPU is visible)."""
    import torch

    from aigve.bench.harness import run_bench
    from aigve.runner import collect_items

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    items = collect_items(shared_videos / "manifest.csv")[:2]
    config = BenchConfig(model=str(tiny_model), device="cuda", dtype="bfloat16", batch_size=2, force_new_tokens=8,
                         paths=("reference", "default", "batched", "scores-only"))
    report = run_bench(items, config).to_dict()
    assert report["environment"]["gpu"]
    for p in report["paths"]:
        assert p["status"] == "ok" and p["peak_gpu_mib"] > 0 and p["generated_tokens"] in (0, 2 * NEW_TOKENS)


def test_unwritable_json_fails_before_the_bench_runs(shared_videos, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    # --model points nowhere: reaching the model would be a different error, so exit 2 naming the
    # path proves --json was checked first.
    code = main(["bench", str(shared_videos / "manifest.csv"), "--model", str(tmp_path / "no-model"),
                 "--json", str(taken / "bench.json")])
    err = capsys.readouterr().err
    assert code == 2 and str(taken) in err and "--json" in err


def _no_gpu_no_build(monkeypatch):
    """Pretend no GPU is visible and record (instead of doing) any checkpoint build."""
    import torch

    import aigve.testing.arch as arch

    calls = []

    def fake_build(name, folder, **kwargs):
        calls.append((name, kwargs))
        raise ConfigError("build", name, "stopped by the test before building")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(arch, "build_random_checkpoint", fake_build)
    return calls


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_full_size_random_arch_on_cpu_is_refused_before_building(shared_videos, tmp_path, capsys, monkeypatch,
                                                                  device):
    calls = _no_gpu_no_build(monkeypatch)
    code = main(["bench", str(shared_videos / "manifest.csv"), "--random-init-arch", "qwen2.5-vl-7b",
                 "--device", device, "--arch-dir", str(tmp_path / "r7")])
    err = capsys.readouterr().err
    assert code == 2 and calls == [] and not (tmp_path / "r7").exists()
    assert "refused at full size on the CPU" in err and "~33 GB of RAM" in err
    assert "--arch-layers" in err and "--device cuda" in err and "--allow-full-size-on-cpu" in err


@pytest.mark.parametrize("flags", [["--arch-layers", "2"], ["--arch-vision-depth", "2"],
                                   ["--arch-width-divisor", "4"], ["--allow-full-size-on-cpu"]])
def test_scaled_down_or_allowed_random_arch_goes_on_to_build(shared_videos, tmp_path, capsys, monkeypatch, flags):
    calls = _no_gpu_no_build(monkeypatch)
    code = main(["bench", str(shared_videos / "manifest.csv"), "--random-init-arch", "qwen2.5-vl-7b",
                 "--arch-dir", str(tmp_path / "r7"), *flags])
    assert code == 2 and "stopped by the test before building" in capsys.readouterr().err
    assert [name for name, _ in calls] == ["qwen2.5-vl-7b"] and calls[0][1]["device"] == "cpu"


def test_json_keeps_finished_paths_when_a_run_is_stopped(tiny_model, shared_videos, tmp_path, monkeypatch):
    """A time limit on a borrowed GPU stops the bench part-way: the paths that finished are on disk."""
    from aigve.bench import harness

    def stopped(ctx):
        raise KeyboardInterrupt

    monkeypatch.setitem(harness._RUNNERS, "batched", stopped)
    out = tmp_path / "bench.json"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["bench", str(shared_videos / "manifest.csv"), "--model", str(tiny_model), "--limit", "1",
                     "--paths", "default,batched", "--warmup", "0", "--force-new-tokens", "2", "--json", str(out),
                     "--min-frames", "2", "--max-frames", "2", "--max-pixels", str(56 * 56),
                     "--min-pixels", str(28 * 28)])
    assert code == 130
    report = json.loads(out.read_text())
    assert report["complete"] is False and [p["name"] for p in report["paths"]] == ["default"]
    assert report["paths"][0]["status"] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]  # no temporary file left


def test_bench_records_the_profile_and_refuses_unknown_ones(bench_report, shared_videos, capsys):
    from aigve.judges.profiles import get_profile

    recorded = bench_report["profile"]  # none named: the one recorded with the tiny checkpoint (or macs-card)
    assert recorded["profile_sha256"] == get_profile(recorded["profile"]).content_sha256()
    assert recorded["source"] in ("checkpoint", "default") and bench_report["config"]["profile"] is None
    assert main(["bench", str(shared_videos / "manifest.csv"), "--model", "nowhere", "--profile", "card"]) == 2
    assert "card" in capsys.readouterr().err
