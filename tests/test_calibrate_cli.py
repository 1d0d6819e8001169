"""``aigve calibrate`` end to end: score synthetic clips with signals, fit to made-up human scores, score again
with ``--backend-option calibration=cal.json``."""

from __future__ import annotations

import json
import re

import pytest

from aigve.cli import COMMANDS, main
from aigve.results import iter_records
from aigve.signals.calibration import Calibration, default_calibration
from aigve.testing.videos import make_clip, write_video

# Made-up human scores per clip kind: (technical_quality, dynamic, consistency, overall).
HUMAN = {"static": (4, 0, 5, 3), "moving": (5, 3, 5, 4), "noisy": (1, 3, 3, 2), "blurred": (2, 3, 4, 2),
         "flicker": (3, 3, 0, 1), "camera_pan": (4, 5, 4, 4)}
ASPECTS = ("technical_quality", "dynamic", "consistency", "overall")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """12 clips (6 kinds x 2 seeds, 64x64) scored by signals, and a human file for them plus one unscored video."""
    root = tmp_path_factory.mktemp("calibrate")
    videos = root / "videos"
    rows = []
    for kind, (tq, dyn, con, ov) in HUMAN.items():
        for seed in (0, 1):
            write_video(videos / f"{kind}_{seed}.mp4", make_clip(kind, seed=seed), fps=8.0)
            rows.append({"video": f"videos/{kind}_{seed}.mp4", "technical_quality": tq, "dynamic": dyn,
                         "consistency": con, "overall": ov})
    rows.append({"video": "videos/never_scored.mp4", "technical_quality": 0, "dynamic": 0, "consistency": 0})
    human = root / "human.jsonl"
    human.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["score", str(videos), "--backend", "signals", "--out", str(root / "run"), "--no-progress"]) == 0
    return root


def _records(path):
    return {r["id"]: r for r in iter_records(path)}


def test_calibrate_is_a_command():
    assert "calibrate" in COMMANDS


def test_fit_prints_pairs_and_srcc_then_score_uses_the_file(scored, capsys):
    cal_path = scored / "cal.json"
    capsys.readouterr()
    assert main(["calibrate", str(scored / "run" / "results.jsonl"), str(scored / "human.jsonl"),
                 "--out", str(cal_path)]) == 0
    printed = capsys.readouterr().out
    cal = Calibration.load(cal_path)
    assert "fitted to 12 videos of human.jsonl" in printed and cal.source.startswith("fitted to 12 videos")
    for aspect in ASPECTS:
        stats = cal.fit_stats[aspect]
        assert stats["fitted"] and stats["n"] == 12 and stats["before"]["n"] == stats["after"]["n"] == 12
        assert stats["after"]["spearman"] >= stats["before"]["spearman"]  # in-sample: the fit cannot lose
        row = re.search(rf"^{aspect}\s+(\d+)\s+yes\s+(\S+)\s+(\S+)", printed, re.M)
        assert row, printed
        assert int(row[1]) == 12
        assert float(row[2]) == pytest.approx(stats["before"]["spearman"], abs=5e-4)
        assert float(row[3]) == pytest.approx(stats["after"]["spearman"], abs=5e-4)
    assert f"calibration={cal_path}" in printed

    # Score again through --backend-option: the run records the file and scores by it.
    assert main(["score", str(scored / "videos"), "--backend", "signals", "--backend-option",
                 f"calibration={cal_path}", "--out", str(scored / "run_cal"), "--no-progress"]) == 0
    before, after = _records(scored / "run" / "results.jsonl"), _records(scored / "run_cal" / "results.jsonl")
    assert set(after) == set(before) and len(after) == 12
    changed = 0
    for vid, rec in after.items():
        assert rec["backend"]["calibration"] == str(cal_path)
        assert rec["backend"]["calibration_fingerprint"] == cal.fingerprint()
        # measuring is unchanged (up to float rounding: OpenCV's threaded optical flow is not bit-reproducible)
        assert rec["extra"]["measurements"] == pytest.approx(before[vid]["extra"]["measurements"], rel=1e-6)
        continuous, _ = cal.score(rec["extra"]["measurements"])
        for aspect in ASPECTS:
            assert rec["scores"][aspect] == int(min(5, max(0, int(continuous[aspect] + 0.5))))
        changed += sum(rec["scores"][a] != before[vid]["scores"][a] for a in ASPECTS)
    assert changed > 0  # the made-up humans disagree with the default thresholds somewhere


def test_output_only_keeps_the_measurement_curves(scored):
    out = scored / "cal_output_only.json"
    assert main(["calibrate", str(scored / "run"), str(scored / "human.jsonl"), "--out", str(out),
                 "--output-only"]) == 0  # the run folder works as RESULTS too
    fitted = Calibration.load(out)
    assert fitted.curves == default_calibration().curves  # only the per-aspect output maps moved
    assert fitted.fingerprint() != default_calibration().fingerprint()
    # --base: start from that file; its in-sample figures become the new "before".
    again = scored / "cal_again.json"
    assert main(["calibrate", str(scored / "run"), str(scored / "human.jsonl"), "--out", str(again),
                 "--base", str(out), "--output-only"]) == 0
    for aspect in ASPECTS:
        assert Calibration.load(again).fit_stats[aspect]["before"] == fitted.fit_stats[aspect]["after"]


def test_errors_name_the_problem(scored, tmp_path, capsys):
    human = str(scored / "human.jsonl")
    assert main(["calibrate", str(tmp_path / "missing.jsonl"), human, "--out", str(tmp_path / "a.json")]) == 2
    assert "results file not found" in capsys.readouterr().err
    # --out a folder, or under a file: one line, exit 2 (was an IsADirectoryError / FileExistsError traceback)
    assert main(["calibrate", str(scored / "run"), human, "--out", str(tmp_path)]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["calibrate", str(scored / "run"), human, "--out", str(tmp_path / "file" / "c.json")]) == 2
    assert "cannot write the calibration" in capsys.readouterr().err
    # Too few human scores for any aspect: exit 1, nothing written.
    assert main(["calibrate", str(scored / "run"), human, "--out", str(tmp_path / "b.json"),
                 "--min-samples", "50"]) == 1
    assert "nothing fitted" in capsys.readouterr().err and not (tmp_path / "b.json").exists()
    # Results of another backend carry no measurements.
    fake = tmp_path / "fake"
    assert main(["score", str(scored / "videos"), "--backend", "fake", "--out", str(fake), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["calibrate", str(fake), human, "--out", str(tmp_path / "c.json")]) == 2
    assert "--backend signals" in capsys.readouterr().err
    assert main(["calibrate", str(scored / "run"), human, "--out", str(tmp_path / "d.json"), "--min-samples", "1"]) == 2
