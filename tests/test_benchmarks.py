"""aigve benchmark: each loader on a fixture written in the benchmark's published layout (real clips from
data/clips), an end-to-end run with the fake backend, resume, the table, and bad layouts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from aigve.cli import main

CLIPS = Path(__file__).resolve().parents[1] / "data" / "clips"
PROMPT = "A beautiful coastal beach in spring, waves lapping on sand"


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _folder(tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "videos").symlink_to(CLIPS, target_is_directory=True)
    return d


def clip(i: int) -> str:
    return f"videos/lavie_beach_{i:02d}.mp4"


def write_vgrb(tmp_path: Path) -> Path:
    d = _folder(tmp_path, "vgrb")
    _csv(d / "videogen-rewardbench.csv",
         ["path_A", "path_B", "A_model", "B_model", "prompt", "fps_A", "num_frames_A", "fps_B", "num_frames_B",
          "VQ", "MQ", "TA", "Overall"],
         [[clip(0), clip(1), "lavie", "lavie", PROMPT, 8, 16, 8, 16, "A", "B", "same", "A"],
          [clip(2), clip(3), "lavie", "lavie", PROMPT, 8, 16, 8, 16, "B", "same", "A", "same"],
          [clip(0), clip(2), "lavie", "lavie", PROMPT, 8, 16, 8, 16, "A", "A", "B", "B"]])
    return d


def write_genai(tmp_path: Path) -> Path:
    d = _folder(tmp_path, "genai")
    _csv(d / "genai_bench_video.csv", ["prompt", "left_model", "right_model", "left_video", "right_video", "vote_type"],
         [[PROMPT, "m1", "m2", clip(4), clip(5), "leftvote"], [PROMPT, "m1", "m2", clip(6), clip(7), "tievote"]])
    return d


def write_vsb2(tmp_path: Path) -> Path:
    """VideoFeedback2's test file as published: video_name (no suffix), video_url, prompt, three 1-5 scores."""
    d = _folder(tmp_path, "vsb2")
    rows = [{"video_name": f"lavie_beach_{i:02d}", "video_url": f"https://example.org/v/lavie_beach_{i:02d}.mp4",
             "prompt": PROMPT, "visual_score": 1 + i % 5, "t2v_score": 5 - i % 5, "phy_score": 3} for i in range(4)]
    (d / "data_27k_test (VideoScoreBench-v2).json").write_text(json.dumps(rows), encoding="utf-8")
    return d


def write_t2vqa(tmp_path: Path) -> Path:
    """T2VQA-DB's annotation file as released: filename|prompt|mos per line, no header, MOS 0-100."""
    d = _folder(tmp_path, "t2vqa")
    (d / "info.txt").write_text("".join(f"lavie_beach_{i:02d}.mp4|{PROMPT}|{20.0 + 10 * i}\n" for i in range(4)),
                                encoding="utf-8")
    return d


def write_vphy(tmp_path: Path) -> Path:
    d = _folder(tmp_path, "vphy")
    _csv(d / "videophy2_test.csv", ["video_url", "caption", "sa", "pc"],
         [[f"https://example.org/x/lavie_beach_{i:02d}.mp4", PROMPT, 1 + i, 5 - i] for i in range(4)])
    return d


def write_aigve(tmp_path: Path) -> Path:
    d = _folder(tmp_path, "aigve")
    keys = ["technical_quality", "dynamic", "consistency", "physics", "element_presence", "element_quality",
            "action_presence", "action_quality", "overall"]
    data = {"metainfo": {}, "data_list": [{"prompt_gt": PROMPT, "video_path_pd": clip(i),
                                           **{k: (i + j) % 6 for j, k in enumerate(keys)}} for i in range(4)]}
    (d / "aigve_bench.json").write_text(json.dumps(data), encoding="utf-8")
    return d


WRITERS = {"videogen-rewardbench": write_vgrb, "genai-bench-video": write_genai, "videoscore-bench-v2": write_vsb2,
           "t2vqa-db": write_t2vqa, "videophy2-test": write_vphy, "aigve-bench": write_aigve}


def _run(name: str, data: Path, out: Path, *extra: str) -> int:
    return main(["benchmark", "run", name, "--data", str(data), "--out", str(out), "--backend", "fake",
                 "--no-progress", "--bootstrap", "20", *extra])


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_benchmark_run_with_the_fake_backend_on_every_loader(name, tmp_path, capsys):
    data = WRITERS[name](tmp_path)
    out = tmp_path / "out"
    assert _run(name, data, out) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["benchmark"] == name and metrics["n_scored"] == metrics["n_videos"] > 0
    assert metrics["columns"] and all(d in metrics["metrics"] and m in metrics["metrics"][d]
                                      for d, m in metrics["columns"])
    ids = {json.loads(line)["id"] for line in (out / "results.jsonl").read_text().splitlines()}
    assert len(ids) == metrics["n_videos"]
    assert f"### {name}" in capsys.readouterr().out


def test_videos_in_several_pairs_are_scored_once_and_counts_are_hand_checked(tmp_path):
    from aigve.benchmarks.loaders import videogen_rewardbench
    from aigve.benchmarks.run import compute

    loaded = videogen_rewardbench(write_vgrb(tmp_path))
    assert len(loaded.videos) == 4 and len(loaded.pairs) == 3
    scores = {"lavie_beach_00": 5, "lavie_beach_01": 3, "lavie_beach_02": 3, "lavie_beach_03": 3}
    records = [{"id": vid, "scores": {"technical_quality": s, "dynamic": s, "consistency": s, "physics": s,
                                      "element_presence": s, "action_presence": s, "overall": s}}
               for vid, s in scores.items()]
    result = compute(loaded, records, n_boot=0)
    # VQ: pair1 A (5>3 right), pair2 B (3=3 tie: wrong w/o ties), pair3 A (5>3 right): without ties 2/3
    assert result["metrics"]["VQ"]["without_ties"]["value"] == pytest.approx(2 / 3)
    # Overall labels A, same, B; deltas 2, 0, 2: eps=0 -> right, right(tie), wrong = 2/3
    assert result["metrics"]["Overall"]["with_ties"]["value"] == pytest.approx(2 / 3)
    assert result["mapping"] == "aigve-macs"


def test_pairwise_judge_records_with_a_preference_field(tmp_path):
    from aigve.benchmarks.loaders import videogen_rewardbench
    from aigve.benchmarks.run import compute

    loaded = videogen_rewardbench(write_vgrb(tmp_path))
    records = [{"id": p.id, "preference": {"VQ": "A", "MQ": "same", "TA": "B", "overall": "B"}} for p in loaded.pairs]
    result = compute(loaded, records, n_boot=0)
    assert result["metrics"]["VQ"]["answer"] == "labels"
    assert result["metrics"]["VQ"]["with_ties"]["value"] == pytest.approx(2 / 3)  # labels A, B, A
    assert result["metrics"]["MQ"]["with_ties"]["value"] == pytest.approx(1 / 3)  # labels B, same, A
    assert result["metrics"]["Overall"]["with_ties"]["value"] == pytest.approx(1 / 3)  # mapped name: overall


def test_resume_skips_the_scored_videos(tmp_path, capsys):
    data = write_vgrb(tmp_path)
    out = tmp_path / "out"
    assert _run("videogen-rewardbench", data, out, "--limit", "2") == 0
    capsys.readouterr()
    assert _run("videogen-rewardbench", data, out, "--resume") == 0
    assert "2 scored, 0 failed, 2 skipped (resume) of 4" in capsys.readouterr().out
    assert _run("videogen-rewardbench", data, out) == 2  # results exist: needs --resume or --overwrite


def test_table_puts_runs_side_by_side(tmp_path, capsys):
    data = write_vsb2(tmp_path)
    for n in ("a", "b"):
        assert _run("videoscore-bench-v2", data, tmp_path / n) == 0
    capsys.readouterr()
    assert main(["benchmark", "table", f"judgeA={tmp_path / 'a'}", f"judgeB={tmp_path / 'b'}"]) == 0
    text = capsys.readouterr().out
    assert "| judgeA |" in text and "| judgeB |" in text and "visual_score accuracy" in text and "avg plcc" in text
    assert "not checked" not in text  # the layout is the published one
    assert main(["benchmark", "table", str(tmp_path / "a"), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["videoscore-bench-v2"]["rows"][0]["cells"]["visual_score/plcc"]["n"] == 4
    assert table["videoscore-bench-v2"]["rows"][0]["cells"]["avg/accuracy"]["n"] == 4


def test_bad_layout_is_one_line_naming_file_column_and_fix(tmp_path, capsys):
    d = _folder(tmp_path, "bad")
    _csv(d / "videogen-rewardbench.csv", ["path_A", "path_B", "prompt", "VQ", "MQ", "TA"],
         [[clip(0), clip(1), PROMPT, "A", "B", "A"]])
    assert _run("videogen-rewardbench", d, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "videogen-rewardbench.csv" in err and "'Overall'" in err and "published layout" in err


def test_missing_folder_and_unknown_benchmark(tmp_path, capsys):
    assert _run("videogen-rewardbench", tmp_path / "nowhere", tmp_path / "out") == 2
    assert "--data" in capsys.readouterr().err
    assert _run("videogen-rewardbnch", tmp_path, tmp_path / "out") == 2
    assert "videogen-rewardbench" in capsys.readouterr().err  # did you mean


def test_list(capsys):
    assert main(["benchmark", "list", "--json"]) == 0
    names = {i["name"] for i in json.loads(capsys.readouterr().out)}
    assert names == set(WRITERS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_benchmark_run_with_the_tiny_judge_on_every_loader(name, tiny_judge, tiny_sampling, tmp_path,
                                                           one_torch_thread):
    data = WRITERS[name](tmp_path)
    s = tiny_sampling
    assert main(["benchmark", "run", name, "--data", str(data), "--out", str(tmp_path / "out"),
                 "--model", str(tiny_judge), "--device", "cpu", "--no-progress", "--bootstrap", "10",
                 "--fps", str(s["fps"]), "--min-frames", str(s["min_frames"]), "--max-frames", str(s["max_frames"]),
                 "--min-pixels", str(s["min_pixels"]), "--max-pixels", str(s["max_pixels"])]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["n_scored"] == metrics["n_videos"] > 0
    assert metrics["judge"]["provenance"]["kind"] == "tiny"  # recorded where the judge was built: not a real run
    if name == "t2vqa-db":  # the taught tiny model answers the same each time: no correlation to compute
        assert metrics["metrics"]["mos"]["srcc"]["value"] is None


def test_genai_bench_as_the_hub_serves_it_parquet(tmp_path):
    import pandas as pd

    from aigve.benchmarks.loaders import genai_bench_video

    d = _folder(tmp_path, "genai-parquet")
    pd.DataFrame([{"prompt": PROMPT, "left_model": "m1", "right_model": "m2", "left_video": clip(0),
                   "right_video": clip(1), "vote_type": "bothbad_vote"}]).to_parquet(d / "test.parquet")
    loaded = genai_bench_video(d)
    assert loaded.pairs[0].labels == {"Overall": 0} and len(loaded.videos) == 2


def test_resume_into_another_benchmarks_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert _run("t2vqa-db", write_t2vqa(tmp_path), out) == 0
    capsys.readouterr()
    assert _run("videophy2-test", write_vphy(tmp_path), out, "--resume") == 2
    assert "benchmark" in capsys.readouterr().err


def test_videoscore_bench_v2_as_published_videos_unzipped_and_missing_scores_count_as_zero(tmp_path):
    from aigve.benchmarks.loaders import videoscore_bench_v2
    from aigve.benchmarks.run import compute

    d = tmp_path / "vsb2"
    (d / "videos_27k_3").mkdir(parents=True)
    (d / "videos_27k_3" / "001033_p.mp4").symlink_to(CLIPS / "lavie_beach_00.mp4")
    rows = [{"video_name": "001033_p", "video_url": "u", "prompt": PROMPT, "visual_score": 4, "t2v_score": 2,
             "phy_score": 3},
            {"video_name": "001034_p", "video_url": "u", "prompt": PROMPT, "visual_score": 5, "t2v_score": 5,
             "phy_score": 5}]
    (d / "data_27k_test (VideoScoreBench-v2).json").write_text(json.dumps(rows), encoding="utf-8")
    loaded = videoscore_bench_v2(d)
    assert loaded.videos[0].path == str((d / "videos_27k_3" / "001033_p.mp4").absolute())  # the link, not its target
    keys = {"visual_quality": 4, "text_alignment": 2, "physical_consistency": None}  # no physics score parsed
    records = [{"id": "001033_p", "backend": {"profile": "videoscore2"}, "scores": keys},
               {"id": "001034_p", "error": {"message": "decode failed"}}]  # an error record is left out
    m = compute(loaded, records, n_boot=0)
    # the harness counts an unreadable score as 0: physics 0 vs 3 is wrong; the failed video is not counted
    assert m["metrics"]["phy_score"]["accuracy"] == {"value": 0.0, "ci": [None, None], "n": 1}
    assert m["metrics"]["visual_score"]["accuracy"]["value"] == 1.0
    assert m["metrics"]["avg"]["accuracy"]["value"] == pytest.approx((1 + 1 + 0) / 3)


def test_t2vqa_db_as_released_pipe_separated_and_bad_lines(tmp_path, capsys):
    from aigve.benchmarks.loaders import t2vqa_db

    d = _folder(tmp_path, "t2vqa")
    (d / "info.txt").write_text("lavie_beach_00.mp4|a cat | a dog|55.5\n\nlavie_beach_01.mp4|a bird|12\n")
    loaded = t2vqa_db(d)
    assert [v.prompt for v in loaded.videos] == ["a cat | a dog", "a bird"]  # a prompt holding "|" is kept
    assert [p.human["mos"] for p in loaded.points] == [55.5, 12.0]
    assert loaded.videos[0].path.endswith("videos/lavie_beach_00.mp4")
    (d / "info.txt").write_text("lavie_beach_00.mp4|a cat|high\n")
    assert main(["benchmark", "run", "t2vqa-db", "--data", str(d), "--out", str(tmp_path / "o"),
                 "--backend", "fake"]) == 2
    err = capsys.readouterr().err.strip()
    assert "info.txt" in err and "mos must be a number, got 'high'" in err and "\n" not in err


def test_videophy2_links_with_a_query_string_are_read_as_their_file_name(tmp_path):
    from aigve.benchmarks.loaders import videophy2_test

    d = _folder(tmp_path, "vphy")
    _csv(d / "videophy2_test.csv", ["video_url", "caption", "sa", "pc", "joint", "is_hard", "model_name"],
         [["https://x.org/videophy2/lavie_beach_03.mp4?download=true", PROMPT, 4, 2, 0, 1, "lavie"]])
    loaded = videophy2_test(d)
    assert loaded.videos[0].path.endswith("videos/lavie_beach_03.mp4") and loaded.notes == ()


def test_the_videoscore2_papers_reading_of_aigve_macs_sums_dimension_means():
    from aigve.benchmarks.mapping import judge_value, mappings

    entry = mappings()["aigve-macs-vs2-paper"]
    scores = {"technical_quality": 4, "element_quality": 3, "action_quality": 2, "element_presence": 5,
              "action_presence": 2, "physics": 1}
    record = {"scores": scores}
    assert judge_value(record, "visual_quality", entry) == pytest.approx(3.0)  # (4 + 3 + 2) / 3
    assert judge_value(record, "text_alignment", entry) == pytest.approx(3.5)  # (5 + 2) / 2
    assert judge_value(record, "overall", entry) == pytest.approx(3.0 + 3.5 + 1)  # v + t + p
    assert judge_value({"scores": {**scores, "physics": None}}, "overall", entry) is None
