"""`aigve sanity` end to end: the signals backend on real LaVie clips, and the command's own behaviour."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from aigve.cli import main

#: The first four manifest clips with visible motion (signals dynamic > 0): frozen can only drop where there was
#: motion (static clips are left out as "at the floor"), so these keep the frozen check decidable with 4 clips.
CLIPS = ("lavie_beach_00", "lavie_beach_01", "lavie_beach_04", "lavie_beach_05")
CHECKS = "prompt_swap,frozen,black,noise,blur,jpeg,duplicate,rerun"


@pytest.fixture(scope="module")
def signals_run(shared_videos, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sanity")
    with open(shared_videos / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["video"].removesuffix(".mp4") in CLIPS]
    manifest = tmp / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["id", "video", "prompt"])
        writer.writeheader()
        writer.writerows({"id": r["video"].removesuffix(".mp4"), "video": str(shared_videos / r["video"]),
                          "prompt": r["prompt"]} for r in rows)
    out = tmp / "out"
    code = main(["sanity", str(manifest), "--backend", "signals", "--checks", CHECKS, "--out", str(out)])
    return code, out, json.loads((out / "metrics.json").read_text())


def _check(metrics, name):
    return next(c for c in metrics["checks"] if c["name"] == name)


def test_writes_the_report_and_costs_at_most_one_plus_checks_per_clip(signals_run):
    code, out, metrics = signals_run
    assert code in (0, 1)
    for name in ("sanity.md", "sanity.html", "metrics.json", "scores.jsonl"):
        assert (out / name).is_file()
    n_checks = len(CHECKS.split(","))
    assert metrics["summary"]["scorings"] <= len(CLIPS) * (1 + n_checks)
    assert len((out / "scores.jsonl").read_text().splitlines()) == metrics["summary"]["scorings"]
    assert metrics["judged_aspects"]["aspects"] == ["technical_quality", "dynamic", "consistency", "overall"]
    assert "Wilson" in (out / "sanity.md").read_text()


@pytest.mark.parametrize("name,aspect", [("frozen", "dynamic"), ("black", "technical_quality"),
                                         ("noise", "technical_quality")])
def test_signals_passes_the_pixel_checks(signals_run, name, aspect):
    check = _check(signals_run[2], name)
    stats = next(a for a in check["aspects"] if a["aspect"] == aspect)
    assert check["verdict"] == "pass", check
    assert stats["share"] == 1.0 and stats["mean_delta"] < 0


# Real signals weaknesses found by this suite (README, "aigve sanity"): clips signals rates 4 for technical quality
# have no room it uses. lavie_beach_01 (black and white, rated 4) stays at 4 when blurred (4x down/up-scaled: every
# blurred LaVie clip gets 4) and when JPEG-crushed (continuous 4.45 -> 3.57, rounded back to 4). Over all 11 shared
# clips jpeg still passes (10/11) and blur fails (8/11). If signals improves, these XPASS and must be updated.
@pytest.mark.xfail(strict=True, reason="signals weakness: a blurred clip rated 4 stays 4 (sharpness under-weighted)")
def test_signals_passes_the_blur_check(signals_run):
    assert _check(signals_run[2], "blur")["verdict"] == "pass"


@pytest.mark.xfail(strict=True, reason="signals weakness: JPEG-crushed black-and-white clip 4.45 -> 3.57, rounds to 4")
def test_signals_passes_the_jpeg_check_on_these_four_clips(signals_run):
    assert _check(signals_run[2], "jpeg")["verdict"] == "pass"


@pytest.mark.parametrize("name", ["blur", "jpeg"])
def test_blur_and_jpeg_drop_every_clip_rated_5(signals_run, name):
    """The part of these checks signals does pass; the one failing clip is the one rated 4."""
    pairs = [p for p in signals_run[2]["pairs"] if p["check"] == name]
    fives = [p for p in pairs if p["original"]["technical_quality"] == 5]
    assert len(fives) == 3
    assert all(p["variant"]["technical_quality"] < 5 for p in fives)
    failed = [p["clip"] for p in pairs if p["variant"]["technical_quality"] >= p["original"]["technical_quality"]]
    assert failed == ["lavie_beach_01"]


def test_duplicate_and_rerun_are_identical(signals_run):
    metrics = signals_run[2]
    for name in ("duplicate", "rerun"):
        check = _check(metrics, name)
        assert check["verdict"] == "pass"
        judged = [a for a in check["aspects"] if a["verdict"] != "not applicable"]
        assert {a["aspect"] for a in judged} == {"technical_quality", "dynamic", "consistency", "overall"}
        assert all(a["share"] == 1.0 and a["mean_delta"] == 0 for a in judged)


def test_prompt_checks_are_not_applicable_for_signals(signals_run):
    check = _check(signals_run[2], "prompt_swap")
    assert check["verdict"] == "not applicable"
    assert all(a["verdict"] == "not applicable" for a in check["aspects"])
    assert "not applicable" in signals_run[2]["summary"]["overall"]["counts"]


def test_variants_are_written_once_and_reused(signals_run):
    out = signals_run[1]
    made = sorted(p.name for p in (out / "variants" / "frozen").iterdir())
    assert len(made) == len(CLIPS)
    for name in ("rerun", "prompt_swap"):  # no new file: the original video is scored again
        assert not list((out / "variants" / name).iterdir())


def test_list_checks(capsys):
    assert main(["sanity", "--list-checks"]) == 0
    text = capsys.readouterr().out
    for name in ("prompt_swap", "frozen", "fps_double", "resolution"):
        assert name in text


def test_unknown_check_is_a_usage_error_before_anything_runs(tmp_path, capsys):
    assert main(["sanity", str(tmp_path), "--backend", "signals", "--checks", "frozn", "--out", str(tmp_path / "o")]) == 2
    assert "frozen" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_fake_backend_run_says_not_a_real_evaluation(tmp_path, capsys):
    from aigve.testing.videos import make_clip, write_video

    video = write_video(tmp_path / "clip.mp4", make_clip("moving", num_frames=8, size=(32, 32)))
    (tmp_path / "clip.txt").write_text("a square moving right")
    code = main(["sanity", str(tmp_path), "--backend", "fake", "--checks", "rerun,duplicate,fps_half",
                 "--out", str(tmp_path / "out")])
    assert code in (0, 1)
    assert "NOT A REAL EVALUATION" in capsys.readouterr().err
    assert "NOT A REAL EVALUATION" in (tmp_path / "out" / "sanity.md").read_text()
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["summary"]["scorings"] == 4 and video.is_file()


@pytest.fixture(scope="module")
def synthetic_clips(tmp_path_factory):
    """Four small synthetic clips with different prompts (fast for model-backed runs)."""
    from aigve.testing.videos import make_clip, write_video

    folder = tmp_path_factory.mktemp("synthetic")
    prompts = ["a red square sliding to the right", "a dog running across a snowy field",
               "a chef chopping onions in a kitchen", "a sailboat drifting on a calm lake"]
    rows = []
    for i, prompt in enumerate(prompts):
        write_video(folder / f"c{i}.mp4", make_clip("moving", num_frames=8, size=(56, 56), seed=i), fps=4.0)
        rows.append({"video": f"c{i}.mp4", "prompt": prompt})
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["video", "prompt"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


TINY_FLAGS = ["--max-frames", "2", "--min-frames", "2", "--max-pixels", str(56 * 56), "--min-pixels", str(28 * 28)]


@pytest.mark.slow  # loads the taught tiny model (~15 s to teach once per session) and generates 16 answers
def test_tiny_judge_that_ignores_the_prompt_fails_prompt_swap(tiny_judge, synthetic_clips, tmp_path, one_torch_thread,
                                                              capsys):
    """The taught tiny model gives every request the same answer: the suite must catch that it ignores the
    prompt and the video, while its determinism passes."""
    out = tmp_path / "out"
    code = main(["sanity", str(synthetic_clips), "--model", str(tiny_judge), "--checks", "prompt_swap,frozen,duplicate",
                 "--out", str(out), "--batch-size", "4", *TINY_FLAGS])
    assert code == 1  # a check failed
    assert "NOT A REAL EVALUATION" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert "inferred" in metrics["judged_aspects"]["source"]  # macs declares no scored_aspects
    verdicts = {c["name"]: c["verdict"] for c in metrics["checks"]}
    assert verdicts == {"prompt_swap": "fail", "frozen": "fail", "duplicate": "pass"}
    swap = _check(metrics, "prompt_swap")
    assert all(a["share"] == 0.0 and a["n"] == 4 for a in swap["aspects"])


@pytest.mark.slow  # a bench run on the taught tiny model
def test_bench_sanity_puts_the_summary_in_json(tiny_judge, synthetic_clips, tmp_path, one_torch_thread):
    import contextlib
    import io

    out = tmp_path / "bench.json"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["bench", str(synthetic_clips / "manifest.csv"), "--model", str(tiny_judge), "--paths", "default",
                     "--warmup", "0", "--json", str(out), "--sanity", "--sanity-checks", "duplicate,rerun",
                     "--sanity-out", str(tmp_path / "sanity"), *TINY_FLAGS])
    assert code == 0
    report = json.loads(out.read_text())
    sanity = report["sanity"]
    assert sanity["clips"] == 4 and sanity["scorings"] == 12
    assert {k: v["verdict"] for k, v in sanity["checks"].items()} == {"duplicate": "pass", "rerun": "pass"}
    assert (tmp_path / "sanity" / "sanity.md").is_file()


def test_webui_sanity_tab_runs_on_an_allowed_folder(synthetic_clips, tmp_path):
    from aigve.webui.app import build_app
    from aigve.webui.sanity_tab import sanity_handler
    from aigve.webui.service import ServiceConfig, WebService

    service = WebService(ServiceConfig(backend="fake", allowed_dirs=(str(synthetic_clips),), work_dir=str(tmp_path)))
    build_app(service)  # the tab lays out with the others
    text, files = sanity_handler(service, str(synthetic_clips), ["duplicate", "rerun"], "fake", None)
    assert "aigve sanity report" in text and "NOT A REAL EVALUATION" in text
    assert [Path(f).name for f in files] == ["sanity.html", "sanity.md", "metrics.json"]
