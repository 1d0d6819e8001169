"""Paths in a run's files are relative to the run folder, so a moved run folder still reads; old traces (paths
relative to the directory refine ran from, or absolute) keep reading."""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path

from aigve.aspects import ASPECT_KEYS
from aigve.cli import main
from aigve.refine.loop import Controller, StopPolicy
from aigve.refine.refiners import RulesRefiner
from aigve.refine.trace import read_trace, resolve_video, run_relative
from aigve.results import EvaluationResult

PROMPT = "a red ball bouncing on a wooden floor"


def raw_rounds(run: Path) -> list[dict]:
    lines = [json.loads(line) for line in (run / "trace.jsonl").read_text().splitlines()]
    return [e for e in lines if e["event"] == "round"]


def test_refine_stores_run_relative_paths_and_a_moved_run_still_reads(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["refine", PROMPT, "--evaluator", "fake", "--rounds", "2", "--out", "runs/rt"]) == 0
    capsys.readouterr()
    run = tmp_path / "runs" / "rt"
    assert [r["video"] for r in raw_rounds(run)] == ["videos/round_00.mp4", "videos/round_01.mp4"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_video"] == "best.mp4"
    assert "runs/rt" not in (run / "trace.jsonl").read_text()  # nothing tied to the launch directory

    moved = tmp_path / "elsewhere" / "kept"
    shutil.move(str(run), str(moved))
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    rounds = [e for e in read_trace(moved) if e["event"] == "round"]
    assert [Path(r["video"]) for r in rounds] == [moved / "videos" / "round_00.mp4", moved / "videos" / "round_01.mp4"]
    best = rounds[summary["best_round"]]["video"]
    assert filecmp.cmp(moved / summary["best_video"], best, shallow=False)
    assert read_trace(moved, resolve_paths=False)[1]["video"] == "videos/round_00.mp4"


def _old_run(folder: Path, stored: str) -> None:
    (folder / "videos").mkdir(parents=True)
    (folder / "videos" / "round_00.mp4").write_bytes(b"video")
    (folder / "trace.jsonl").write_text(json.dumps({"event": "round", "round": 0, "video": stored}) + "\n")


def test_old_traces_with_launch_relative_or_absolute_paths_still_resolve(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _old_run(tmp_path / "runs" / "rt", "runs/rt/videos/round_00.mp4")  # as written before the fix
    assert read_trace("runs/rt")[0]["video"] == str(Path("runs/rt/videos/round_00.mp4"))  # same place
    shutil.move("runs/rt", "moved")
    assert Path(read_trace("moved")[0]["video"]) == Path("moved/videos/round_00.mp4")
    _old_run(tmp_path / "abs", str(tmp_path / "gone" / "videos" / "round_00.mp4"))  # absolute, folder since moved
    assert Path(read_trace(tmp_path / "abs")[0]["video"]) == tmp_path / "abs" / "videos" / "round_00.mp4"
    assert resolve_video(tmp_path / "abs", "videos/missing.mp4") == tmp_path / "abs" / "videos" / "missing.mp4"


class OutsideGenerator:
    """Writes every video into its own folder, ignoring the path it is given."""

    name = "outside"

    def __init__(self, folder: Path):
        self.folder = folder

    def generate(self, prompt, seed, out_path):
        path = self.folder / f"{len(list(self.folder.iterdir()))}.mp4"
        path.write_text(prompt)
        return path


class ConstantEvaluator:
    def evaluate(self, video, prompt):
        return EvaluationResult(id="x", video=str(video), prompt=prompt, scores={k: 2 for k in ASPECT_KEYS},
                                comments={k: "note" for k in ASPECT_KEYS})


def test_a_video_outside_the_run_folder_is_stored_absolute(tmp_path):
    outside = tmp_path / "gen"
    outside.mkdir()
    assert run_relative(tmp_path / "run" / "videos" / "a.mp4", tmp_path / "run") == "videos/a.mp4"
    controller = Controller(OutsideGenerator(outside), ConstantEvaluator(), RulesRefiner(), stop=StopPolicy(rounds=1))
    controller.run(PROMPT, tmp_path / "run")
    stored = raw_rounds(tmp_path / "run")[0]["video"]
    assert Path(stored).is_absolute() and Path(stored) == (outside / "0.mp4").resolve()
    assert (tmp_path / "run" / "best.mp4").read_text() == PROMPT
