"""The re-created released usage (OpenCV -> PNG -> qwen-vl-utils -> processor -> batch-1 generate) on the tiny model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from aigve.bench.reference import REFERENCE_FPS, ReferencePipeline, decode_frames, write_pngs
from aigve.errors import VideoDecodeError


def test_decode_at_2fps_capped(shared_videos):
    clip = shared_videos / "lavie_beach_00.mp4"  # 16 frames at 8 fps
    frames = decode_frames(clip)
    assert len(frames) == 16 // round(8 / REFERENCE_FPS) and frames[0].shape == (512, 512, 3)
    assert len(decode_frames(clip, fps=8.0, max_frames=5)) == 5
    with pytest.raises(VideoDecodeError, match="OpenCV cannot open"):
        decode_frames(shared_videos / "missing.mp4")


def test_pngs_round_trip(shared_videos, tmp_path):
    import cv2

    frames = decode_frames(shared_videos / "lavie_beach_01.mp4", max_frames=2)
    paths = write_pngs(frames, tmp_path)
    assert [Path(p).name for p in paths] == ["frame_0000.png", "frame_0001.png"]
    assert (cv2.imread(paths[1]) == frames[1]).all()  # PNG is lossless


def test_reference_run_on_tiny_model(tiny_model, shared_videos, tmp_path, monkeypatch):
    pipe = ReferencePipeline(tiny_model, force_new_tokens=4)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # a private temp dir: other runs may share /tmp
    out = pipe.run(shared_videos / "lavie_beach_02.mp4", "a beach")
    assert not list(tmp_path.glob("aigve-ref-*"))  # frame files cleaned up
    assert out.generated_tokens == 4 and out.visual_tokens > 0 and out.prompt_tokens > out.visual_tokens
    assert set(out.timings) == {"decode_s", "preprocess_s", "model_s", "parse_s"}
    assert out.error and "no aspect score" in out.error  # random weights write no answer; recorded, not raised
    video = pipe.messages(["a.png"], "p")[0]["content"][0]
    assert (video["resized_height"], video["resized_width"], video["fps"]) == (480, 854, 1)
