"""Issue 19: a faststart mp4 cut to 41% of its bytes opens (its index is at the front) but holds 41% of its
frames: probe reads to the end and says so, and its record is ``partial`` with the decoded fraction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aigve.backends.fake import FakeBackend
from aigve.cli import main
from aigve.evaluator import Evaluator
from aigve.testing.videos import write_video
from aigve.video import probe


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cut")
    frames = np.random.default_rng(0).integers(0, 255, (100, 64, 64, 3), dtype=np.uint8)  # noise: frames dominate
    whole = write_video(folder / "whole.mp4", frames, fps=10, faststart=True)
    data = whole.read_bytes()
    cut = folder / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.41)])
    return whole, cut


def test_probe_reads_to_the_end(cut_clip) -> None:
    whole, cut = cut_clip
    info = probe(whole)
    assert info.num_frames == 100 and info.header_frames is None and info.decoded_fraction == 1.0
    info = probe(cut)
    assert info.header_frames == 100 and 30 <= info.num_frames <= 45
    assert info.duration_s == pytest.approx(info.num_frames / 10)  # the readable duration, not the header's 10 s
    assert 0.3 <= info.decoded_fraction <= 0.45


def test_probe_command_reports_it_truncated(cut_clip, capsys) -> None:
    main(["probe", str(cut_clip[1])])
    out = capsys.readouterr().out
    assert out.startswith("partial") and "TRUNCATED: the header lists 100 frames" in out
    main(["probe", str(cut_clip[1]), "--json"])
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert line["status"] == "partial" and line["header_frames"] == 100 and line["decoded_fraction"] < 0.5


def test_a_truncated_video_is_scored_partial_with_its_fraction(cut_clip) -> None:
    evaluator = Evaluator(FakeBackend())
    result = evaluator.evaluate(cut_clip[1], "p")
    assert result.ok and result.status == "partial"
    record = result.to_record()
    assert record["status"] == "partial" and 0.3 <= record["sampling"]["decoded_fraction"] <= 0.45
    assert record["sampling"]["header_num_frames"] == 100
    assert max(record["sampling"]["frame_indices"]) < 45
    whole = evaluator.evaluate(cut_clip[0], "p")
    assert whole.status == "ok" and whole.sampling["decoded_fraction"] == 1.0
