"""aigve pairwise: preferences from per-video scores, VideoGen-RewardBench accuracies, the CLI end to end."""

from __future__ import annotations

import csv
import json

import pytest

from aigve.cli import main
from aigve.errors import InputError
from aigve.report.pairwise import judge_pairs, preference, read_pairs, video_scores, write_pairwise


def _manifest(tmp_path, rows, name="pairs.csv"):
    path = tmp_path / name
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=sorted({k for r in rows for k in r}))
        w.writeheader()
        w.writerows(rows)
    return path


def _rec(ident, overall, expected=None, error=None):
    rec = {"id": ident, "scores": {"overall": overall, "dynamic": overall}, "error": error}
    if expected is not None:
        rec["expected_scores"] = {"overall": expected, "dynamic": expected}
    return rec


def test_preference_rule():
    assert preference(0.6, 0.5) == "a" and preference(-0.6, 0.5) == "b"
    assert preference(0.5, 0.5) == "tie" and preference(0.0, 0.0) == "tie" and preference(None, 0.0) is None


def test_read_pairs_scores_each_video_once_per_prompt(tmp_path):
    path = _manifest(tmp_path, [{"a": "x.mp4", "b": "y.mp4", "prompt": "p", "label": "a"},
                                {"a": "y.mp4", "b": "z.mp4", "prompt": "p", "label": "tie"},
                                {"a": "x.mp4", "b": "z.mp4", "prompt": "q", "label": ""}])
    pairs, videos = read_pairs(path)
    assert len(pairs) == 3 and len(videos) == 5  # x, y, z for p; x, z again for q
    assert pairs[0].labels == {"overall": 1} and pairs[1].labels == {"overall": 0} and pairs[2].labels == {}
    assert pairs[0].b_id == pairs[1].a_id
    assert videos[pairs[0].a_id] == (str((tmp_path / "x.mp4").resolve()), "p")
    bad = _manifest(tmp_path, [{"a": "x.mp4", "b": "y.mp4", "prompt": "p", "label": "left"}], "bad.csv")
    with pytest.raises(InputError, match="label must be a, b or tie"):
        read_pairs(bad)


def test_accuracy_with_and_without_ties_on_a_hand_made_set(tmp_path):
    # overall deltas a - b: +2, -1.5, +0.2, -0.4, +0.3, +1.0 with labels a, b, tie, tie, a, b
    # (the same set as tests/test_core_stats.py: with ties 4/6 at epsilon 0.2; without ties 3/4)
    deltas = [2.0, -1.5, 0.2, -0.4, 0.3, 1.0]
    labels = ["a", "b", "tie", "tie", "a", "b"]
    rows, records = [], []
    for n, (d, lab) in enumerate(zip(deltas, labels, strict=True)):
        rows.append({"a": f"a{n}.mp4", "b": f"b{n}.mp4", "prompt": f"p{n}", "label": lab})
        records += [_rec(f"a{n}", 3, 2.5 + d), _rec(f"b{n}", 3, 2.5)]
    pairs, _ = read_pairs(_manifest(tmp_path, rows))
    result = write_pairwise(pairs, records, tmp_path / "out")
    assert result["score_kind"] == "expected"  # every record has expected scores: continuous by default
    acc = result["accuracy"]["overall"]
    assert acc["accuracy_with_ties"] == pytest.approx(4 / 6)
    assert acc["epsilon"] == pytest.approx(0.2)
    assert acc["accuracy_without_ties"] == pytest.approx(3 / 4)
    assert acc["counts"] == {"c": 3, "d": 1, "t_h": 1, "t_m": 0, "t_hm": 1}
    # integer scores: every pair ties -> with ties 2/6 (the human ties), without ties 0 (model ties are wrong)
    ints = write_pairwise(pairs, records, tmp_path / "out2", score_kind="integer")["accuracy"]["overall"]
    assert ints["accuracy_with_ties"] == pytest.approx(2 / 6) and ints["accuracy_without_ties"] == 0.0
    for name in ("pairwise.json", "pairwise.csv", "pairwise.md"):
        assert (tmp_path / "out" / name).is_file()


def test_per_aspect_labels_and_unscored_videos(tmp_path):
    pairs, _ = read_pairs(_manifest(tmp_path, [
        {"a": "a.mp4", "b": "b.mp4", "prompt": "p", "label": "a", "label_dynamic": "b"},
        {"a": "a.mp4", "b": "c.mp4", "prompt": "p", "label": "b", "label_dynamic": "tie"}]))
    records = [_rec("a", 4), _rec("b", 2), _rec("c", 0, error={"message": "broken"})]
    judged = judge_pairs(pairs, video_scores(records, "integer"), tie_margin=0.0)
    assert judged[0]["aspects"]["overall"]["preferred"] == "a"
    assert judged[1]["aspects"]["overall"]["preferred"] is None  # c failed: not judged, not counted
    result = write_pairwise(pairs, records, tmp_path / "o", score_kind="integer")
    assert result["accuracy"]["dynamic"]["n"] == 1 and result["accuracy"]["dynamic"]["accuracy_without_ties"] == 0.0
    assert result["summary"]["overall"] == {"a": 1, "b": 0, "tie": 0, "unscored": 1}


def test_overall_falls_back_to_mean_of_aspects():
    scores = video_scores([{"id": "v", "scores": {"technical_quality": 4, "dynamic": 2}}], "integer")
    assert scores["v"]["overall"] == 3.0


def test_cli_end_to_end_with_fake_backend_resumable(shared_videos, tmp_path, capsys):
    clips = sorted(p.name for p in shared_videos.glob("*.mp4"))[:4]
    rows = [{"a": str(shared_videos / clips[0]), "b": str(shared_videos / clips[1]), "prompt": "a beach", "label": "a"},
            {"a": str(shared_videos / clips[2]), "b": str(shared_videos / clips[3]), "prompt": "a beach", "label": "tie"}]
    manifest = _manifest(tmp_path, rows)
    out = tmp_path / "pw"
    assert main(["pairwise", str(manifest), "--backend", "fake", "--out", str(out), "--no-progress"]) == 0
    assert "pairwise results written" in capsys.readouterr().out
    data = json.loads((out / "pairwise.json").read_text())
    assert data["n_pairs"] == 2 and data["score_kind"] == "integer" and "overall" in data["accuracy"]
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4
    # an existing --out needs --resume; with it nothing is scored again
    assert main(["pairwise", str(manifest), "--backend", "fake", "--out", str(out), "--no-progress"]) == 2
    assert main(["pairwise", str(manifest), "--backend", "fake", "--out", str(out), "--no-progress", "--resume"]) == 0
    assert (out / "results.jsonl").read_text().splitlines() == lines


def test_a_judge_shown_both_videos_is_asked_both_ways_and_flips_are_ties(tmp_path):
    from aigve.report.pairwise import judge_verdict_pairs, order_items

    rows = [{"a": "x.mp4", "b": "y.mp4", "prompt": "p", "label": "a"},   # A then B again: consistent a
            {"a": "u.mp4", "b": "v.mp4", "prompt": "p", "label": "b"},   # A both times: flips with the order
            {"a": "s.mp4", "b": "t.mp4", "prompt": "p", "label": "tie"}]  # same both times: a consistent tie
    pairs, videos = read_pairs(_manifest(tmp_path, rows))
    ids = [i for i, *_ in order_items(pairs, videos)]
    assert ids == ["pair1:ab", "pair1:ba", "pair2:ab", "pair2:ba", "pair3:ab", "pair3:ba"]
    assert order_items(pairs, videos)[1][1].endswith("y.mp4")  # (b, a): b is shown first
    said = {"pair1:ab": "A", "pair1:ba": "B", "pair2:ab": "A", "pair2:ba": "A", "pair3:ab": "same", "pair3:ba": "same"}
    records = [{"id": i, "preference": {"overall": v}} for i, v in said.items()]
    judged = judge_verdict_pairs(pairs, records)
    cells = [r["aspects"]["overall"] for r in judged]
    assert [c["preferred"] for c in cells] == ["a", "tie", "tie"]
    assert [c["consistent"] for c in cells] == [True, False, True]
    result = write_pairwise(pairs, records, tmp_path / "out")
    acc = result["accuracy"]["overall"]
    # labels a, b, tie vs verdicts a, tie, tie: with ties 2/3 (plain agreement); without ties (a, b) 1/2
    assert acc["accuracy_with_ties"] == pytest.approx(2 / 3) and acc["epsilon"] is None
    assert acc["accuracy_without_ties"] == pytest.approx(1 / 2)
    assert result["score_kind"] == "verdict" and "1 inconsistent" in result["notes"][0]


def test_cli_runs_a_pairwise_judge_profile_both_ways(shared_videos, tiny_model, tiny_sampling, tmp_path, capsys,
                                                     monkeypatch):
    from transformers import AutoTokenizer

    cls = type(AutoTokenizer.from_pretrained(str(tiny_model)))
    monkeypatch.setattr(cls, "decode", lambda self, ids, **kw: "Video 1 is better.")  # always the first shown
    clips = sorted(p.name for p in shared_videos.glob("*.mp4"))[:2]
    manifest = _manifest(tmp_path, [{"a": str(shared_videos / clips[0]), "b": str(shared_videos / clips[1]),
                                     "prompt": "a beach", "label": "a"}])
    out = tmp_path / "pw"
    s = tiny_sampling
    assert main(["pairwise", str(manifest), "--model", str(tiny_model), "--device", "cpu", "--profile",
                 "unifiedreward-video", "--max-new-tokens", "2", "--out", str(out), "--no-progress",
                 "--max-frames", str(s["max_frames"]), "--min-frames", str(s["min_frames"]),
                 "--max-pixels", str(s["max_pixels"]), "--min-pixels", str(s["min_pixels"])]) == 0
    assert "1 pairs, 2 requests (both orders)" in capsys.readouterr().out
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["pair1:ab", "pair1:ba"]
    assert records[0]["second"] == records[1]["video"]  # the same two videos, swapped
    data = json.loads((out / "pairwise.json").read_text())
    # "Video 1" both times: a in one order, b in the other -> an order-dependent answer, counted as a tie
    cell = data["pairs"][0]["aspects"]["overall"]
    assert cell["preferred"] == "tie" and cell["consistent"] is False and cell["orders"] == {"ab": "A", "ba": "A"}


def test_overwrite_into_a_folder_another_run_holds_loses_nothing(shared_videos, tmp_path, capsys):
    """--overwrite discards under the folder's lock: refused while another run holds it, the results stay."""
    import threading

    from aigve.run.folder import RunFolder

    clips = sorted(p.name for p in shared_videos.glob("*.mp4"))[:2]
    manifest = _manifest(tmp_path, [{"a": str(shared_videos / clips[0]), "b": str(shared_videos / clips[1]),
                                     "prompt": "a beach", "label": "a"}])
    out = tmp_path / "pw"
    assert main(["pairwise", str(manifest), "--backend", "fake", "--out", str(out), "--no-progress"]) == 0
    before = (out / "results.jsonl").read_text()
    held, release = threading.Event(), threading.Event()

    def hold():
        with RunFolder(out).lock():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        assert main(["pairwise", str(manifest), "--backend", "fake", "--out", str(out), "--no-progress",
                     "--overwrite"]) == 2
    finally:
        release.set()
        holder.join()
    assert "in use" in capsys.readouterr().err
    assert (out / "results.jsonl").read_text() == before
