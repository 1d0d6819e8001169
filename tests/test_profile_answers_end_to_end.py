"""Judge profiles with their own answers, end to end on the tiny Qwen2.5-VL checkpoint (issue 17).

The tiny model is random, so its words mean nothing: these tests replace the tokenizer's ``decode`` with a fixed
answer in the profile's released format (VideoScore2's score line, UnifiedReward's verdict) and check everything
after it for real: the profile's parser in the backend, the record (the profile's own aspect keys, a pair's
``second`` and ``preference``), results.csv, the printed means and the benchmark's metric, hand-computed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_benchmarks import write_t2vqa, write_vgrb, write_vsb2

from aigve.cli import main

VS2_ANSWER = ("The frames are sharp but the waves barely move.\n"
              "visual quality: 4; text-to-video alignment: 2, physical/common-sense consistency: 3")
PAIR_ANSWER = "Both are beaches, but Video 1 is better: its waves are smoother."


@pytest.fixture
def answering(monkeypatch, tiny_model):
    """``answering(text)``: the tiny model's tokenizer decodes every generation as ``text``."""
    from transformers import AutoTokenizer

    cls = type(AutoTokenizer.from_pretrained(str(tiny_model)))

    def set_answer(text: str) -> None:
        monkeypatch.setattr(cls, "decode", lambda self, ids, **kw: text)

    return set_answer


def _judge_flags(model: Path, sampling: dict) -> list[str]:
    return ["--model", str(model), "--device", "cpu", "--no-progress", "--max-new-tokens", "2",
            "--fps", str(sampling["fps"]), "--min-frames", str(sampling["min_frames"]),
            "--max-frames", str(sampling["max_frames"]), "--min-pixels", str(sampling["min_pixels"]),
            "--max-pixels", str(sampling["max_pixels"])]


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def test_score_runs_videoscore2_and_records_its_three_dimensions(tiny_model, tiny_sampling, answering, tmp_path,
                                                                 capsys, one_torch_thread):
    from aigve.results import EvaluationResult

    answering(VS2_ANSWER)
    clips = Path(__file__).resolve().parents[1] / "data" / "samples"
    out = tmp_path / "vs2"
    assert main(["score", str(clips), "--profile", "videoscore2", "--out", str(out),
                 *_judge_flags(tiny_model, tiny_sampling)]) == 0
    printed = capsys.readouterr().out
    records = _records(out)
    assert len(records) == 3
    for r in records:
        assert r["scores"] == {"visual_quality": 4, "text_alignment": 2, "physical_consistency": 3}
        assert r["comments"]["visual_quality"] == "The frames are sharp but the waves barely move."
        assert r["aspect_set"] == {"name": "videoscore2", "scale": [1, 5],
                                   "keys": ["visual_quality", "text_alignment", "physical_consistency"]}
        assert r["status"] == "ok" and r["judged_aspects"] == r["aspect_set"]["keys"]
        assert r["backend"]["profile"] == "videoscore2"
        # soft scores (the release's, keyed like the scores; their values come from random logits here)
        assert sorted(r["expected_scores"]) == sorted(r["aspect_set"]["keys"])
        # read back: VideoScore2's visual_quality is NOT folded into AIGVE-MACS's technical_quality
        assert EvaluationResult.from_record(r).scores["visual_quality"] == 4
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[4:7] == ["visual_quality", "text_alignment", "physical_consistency"]
    assert "technical_quality" not in rows[0] and rows[0]["text_alignment"] == "2"
    assert "visual_quality        4.00    3" in printed and "technical_quality" not in printed
    # the nine-aspect report refuses these records rather than reading visual_quality as technical_quality
    assert main(["report", "--scores", str(out / "results.jsonl"), "--out", str(tmp_path / "rep")]) == 2
    assert "scores its own aspects" in capsys.readouterr().err


def test_records_without_a_profile_of_their_own_keep_their_shape():
    from aigve.results import EvaluationResult, record_status, score_columns

    nine = EvaluationResult("a", "a.mp4", "p").to_record()
    assert not {"second", "preference", "aspect_set"} & set(nine)  # nine-aspect records are as they were
    own = {"scores": {"visual_quality": 3, "text_alignment": None, "physical_consistency": 2},
           "judged_aspects": ["visual_quality", "text_alignment", "physical_consistency"],
           "aspect_set": {"name": "videoscore2", "keys": ["visual_quality", "text_alignment", "physical_consistency"]}}
    pair = {"scores": {}, "judged_aspects": [], "preference": {"overall": "B"}, "second": "b.mp4"}
    assert record_status(own) == "partial" and record_status(pair) == "ok"
    assert score_columns([nine]) == score_columns([nine, pair])  # the nine, unchanged
    assert score_columns([own, pair]) == ("visual_quality", "text_alignment", "physical_consistency")
    assert score_columns([nine, own])[-3:] == ("visual_quality", "text_alignment", "physical_consistency")
    assert len(score_columns([nine, own])) == 12
    failed = {"error": {"message": "cannot decode"}, "scores": {}}  # a broken video in a VideoScore2 run
    assert score_columns([own, failed]) == score_columns([own])


def test_benchmark_run_with_the_videoscore2_profile_hand_checked(tiny_model, tiny_sampling, answering, tmp_path,
                                                                 capsys, one_torch_thread):
    answering(VS2_ANSWER)
    out = tmp_path / "out"
    assert main(["benchmark", "run", "videoscore-bench-v2", "--data", str(write_vsb2(tmp_path)), "--out", str(out),
                 "--profile", "videoscore2", "--bootstrap", "0", *_judge_flags(tiny_model, tiny_sampling)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_scored"] == 4
    # read the integer answers (the soft ones come from random logits here)
    from aigve.benchmarks.loaders import videoscore_bench_v2
    from aigve.benchmarks.run import compute

    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    m = compute(videoscore_bench_v2(tmp_path / "vsb2"), records, mapping="videoscore2-int", n_boot=0)
    v, t, p, avg = (m["metrics"][k] for k in ("visual_score", "t2v_score", "phy_score", "avg"))
    # humans: visual 1, 2, 3, 4 vs the judge's 4; alignment 5, 4, 3, 2 vs 2; physics 3, 3, 3, 3 vs 3
    assert v["accuracy"]["value"] == pytest.approx(1 / 4) and v["within1"]["value"] == pytest.approx(2 / 4)
    assert t["accuracy"]["value"] == pytest.approx(1 / 4) and t["within1"]["value"] == pytest.approx(2 / 4)
    assert p["accuracy"]["value"] == 1.0 and p["plcc"]["value"] is None  # constant scores: undefined, never 0
    assert avg["accuracy"]["value"] == pytest.approx((1 / 4 + 1 / 4 + 1) / 3) and avg["plcc"]["value"] is None


def test_benchmark_run_with_a_pairwise_judge_scores_pairs(tiny_model, tiny_sampling, answering, tmp_path, capsys,
                                                          one_torch_thread):
    answering(PAIR_ANSWER)
    out = tmp_path / "pairs"
    assert main(["benchmark", "run", "videogen-rewardbench", "--data", str(write_vgrb(tmp_path)), "--out", str(out),
                 "--profile", "unifiedreward-video", "--bootstrap", "0", "--batch-size", "2",
                 *_judge_flags(tiny_model, tiny_sampling)]) == 0
    records = {r["id"]: r for r in _records(out)}
    assert sorted(records) == ["pair1", "pair2", "pair3"]  # one record per human comparison, not per video
    for r in records.values():
        assert r["preference"] == {"overall": "A"} and r["scores"] == {} and r["status"] == "ok"
        assert r["second"].endswith(".mp4") and r["second"] != r["video"]
        assert len(r["extra"]["video_grid_thw"]) == 2 and len(r["sampling"]["A"]["frame_indices"]) > 0
        assert len(r["extra"]["second_per_grid_ts"]) == 2
    assert {r["extra"]["batch_size"] for r in records.values()} == {1, 2}  # 3 pairs in batches of 2: rows kept apart
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_scored"] == 3 and m["n_pairs"] == 3
    # human Overall: A, same, B; the judge says A each time: with ties 1/3; without ties (pairs 1 and 3) 1/2
    overall = m["metrics"]["Overall"]
    assert overall["answer"] == "labels"
    assert overall["with_ties"]["value"] == pytest.approx(1 / 3)
    assert overall["without_ties"]["value"] == pytest.approx(1 / 2)
    assert m["metrics"]["VQ"]["with_ties"]["value"] is None  # UnifiedReward answers one overall verdict only
    with open(out / "results.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert row["preference.overall"] == "A" and row["second"].endswith(".mp4")


def test_a_pairwise_judge_is_refused_where_there_are_no_pairs(tmp_path, capsys):
    assert main(["benchmark", "run", "t2vqa-db", "--data", str(write_t2vqa(tmp_path)), "--out", str(tmp_path / "o"),
                 "--profile", "unifiedreward-video", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "t2vqa-db scores single videos" in err and "--profile" in err
    assert main(["score", str(tmp_path), "--profile", "unifiedreward-video", "--out", str(tmp_path / "s")]) == 2
    assert "compares two" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()


def test_an_item_with_the_wrong_number_of_videos_gets_an_error_record_not_a_score():
    from aigve.evaluator import Evaluator, VideoItem
    from aigve.registry import BACKENDS

    clip = str(Path(__file__).resolve().parents[1] / "data" / "samples" / "lavie_beach_00.mp4")
    evaluator = Evaluator(BACKENDS.create("fake"), {"min_frames": 2, "max_frames": 2}, prefetch=0)
    pair, single = VideoItem("p", clip, "a beach", second=clip), VideoItem("s", clip, "a beach")
    got = {r.id: r for r in evaluator.evaluate_many([pair, single], batch_size=2)}
    assert got["s"].ok and got["p"].error["stage"] == "input"
    assert "is a pair" in got["p"].error["message"] and got["p"].second == clip


def test_videoscore2_soft_scores_as_the_release_computes_them():
    import math

    from aigve.backends.digit_scores import read_vs2_soft_scores, vs2_score_step, vs2_soft_score

    # digits 1-5 with probabilities .1 .2 .4 .2 .1 (digit 0 far below): best 3, norm .4 -> 1.2
    logits = [-50.0, *(math.log(p) for p in (0.1, 0.2, 0.4, 0.2, 0.1))]
    assert vs2_soft_score(logits, 1.0) == (1.2, pytest.approx(0.4))
    # temperature 0.5 squares the odds: .01 .04 .16 .04 .01 -> norm .16 / .26; soft round(3 * .615385, 4)
    assert vs2_soft_score(logits, 0.5)[0] == 1.8462
    tokens = ["Fine.", "\nvisual quality", ":", " ", "4", ";", " text-to-video alignment: ", "2", ", physical",
              "/common-sense consistency: 3."]  # the last digit shares a token with the "."

    def prefix(k: int) -> str:
        return "".join(tokens[:k])

    n = len(tokens)
    assert vs2_score_step(prefix, n, "visual quality:") == 4
    assert vs2_score_step(prefix, n, "text-to-video alignment:") == 7
    assert vs2_score_step(prefix, n, "physical/common-sense consistency:") is None  # no token ends at its digit
    rows = [[0.0] * 6 for _ in range(n)]
    rows[4] = logits
    soft, norms = read_vs2_soft_scores(prefix, n, rows, {"v": "visual quality:", "t": "text-to-video alignment:",
                                                         "p": "physical/common-sense consistency:"},
                                       {"v": 4, "t": None, "p": 3}, 1.0)
    assert soft == {"v": 1.2, "t": None, "p": None}  # t: no hard score; p: no step, as the release returns None
    assert norms["v"] == pytest.approx(0.4)


def test_benchmarks_read_videoscore2s_soft_scores_when_the_run_has_them(tmp_path):
    from aigve.benchmarks.loaders import videoscore_bench_v2
    from aigve.benchmarks.run import compute

    loaded = videoscore_bench_v2(write_vsb2(tmp_path))  # humans: visual 1, 2, 3, 4
    soft = [1.2, 2.5, 3.5, 4.4]  # rounded as the harness does: 1, 2, 4, 4
    records = [{"id": f"lavie_beach_{i:02d}", "backend": {"profile": "videoscore2"},
                "scores": {"visual_quality": 5, "text_alignment": 5, "physical_consistency": 5},
                "expected_scores": {"visual_quality": s, "text_alignment": 3.0, "physical_consistency": 3.0}}
               for i, s in enumerate(soft)]
    m = compute(loaded, records, n_boot=0)
    assert m["mapping"] == "videoscore2"
    assert m["metrics"]["visual_score"]["accuracy"]["value"] == pytest.approx(3 / 4)  # 1, 2, 4 (vs 3: wrong), 4
    assert m["metrics"]["visual_score"]["plcc"]["value"] == pytest.approx(0.99628, abs=1e-4)  # raw soft scores
