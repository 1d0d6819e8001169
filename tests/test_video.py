"""Decoding: probe, read_frames, load_video on the real LaVie clips and synthetic / broken files."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest

import aigve.video as video
from aigve.config import SamplingConfig
from aigve.errors import VideoDecodeError
from aigve.sampling import plan_sampling
from aigve.testing.videos import CLIP_KINDS, has_encoder, make_clip, write_corrupt, write_video
from aigve.video import VIDEO_EXTENSIONS, is_video_path, load_video, probe, read_frames

needs_decord = pytest.mark.skipif(not video.decord_available(), reason="decord not installed")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small encoded files shared by the tests of this module."""
    d = tmp_path_factory.mktemp("clips")
    out = {
        "moving": write_video(d / "moving.mp4", make_clip("moving", num_frames=16), fps=8.0),
        "mkv": write_video(d / "moving.mkv", make_clip("moving", num_frames=16), fps=8.0),
        "one": write_video(d / "one.mp4", make_clip("static", num_frames=1), fps=24.0),
        "odd": write_video(d / "odd.mp4", make_clip("moving", num_frames=30, size=(63, 65)), fps=29.97),
        "tail": write_corrupt(d / "tail.mp4", "truncated_tail"),
    }
    half = np.concatenate([make_clip("static", num_frames=32, seed=3), make_clip("camera_pan", num_frames=32, seed=3)])
    out["half"] = write_video(d / "half_static_half_pan.mp4", half, fps=8.0)
    red = np.zeros((4, 32, 32, 3), np.uint8)
    red[..., 0] = 230
    out["red"] = write_video(d / "red.mp4", red, fps=8.0)
    return out


def _audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for i in range(4):
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# ---------------------------------------------------------------------------------------------- real clips

def test_probe_real_clips(shared_videos: Path):
    paths = sorted(shared_videos.glob("*.mp4"))
    assert len(paths) == 11
    for p in paths:
        info = probe(p)
        assert (info.num_frames, info.fps, info.duration_s) == (16, 8.0, 2.0)
        assert (info.width, info.height, info.codec) == (512, 512, "h264")
        assert info.size_bytes == p.stat().st_size


def test_load_real_clip_default_sampling(shared_videos: Path):
    v = load_video(shared_videos / "lavie_beach_00.mp4")
    assert v.frames.shape == (4, 504, 504, 3) and v.frames.dtype == np.uint8
    assert v.plan.indices == (2, 6, 10, 14) and v.plan.sampled_fps == 2.0
    assert v.decode_s > 0 and v.frames.std() > 10  # real content, not a blank frame
    rec = v.sampling_record()
    assert rec["frame_indices"] == [2, 6, 10, 14] and rec["decoder"] == v.info.decoder


@needs_decord
def test_pyav_gives_decord_pixels_on_a_real_clip(shared_videos: Path):
    path = shared_videos / "lavie_beach_03.mp4"
    a = load_video(path, decoder="decord")
    b = load_video(path, decoder="pyav")
    assert (a.info.decoder, b.info.decoder) == ("decord", "pyav")
    np.testing.assert_array_equal(a.frames, b.frames)


# ---------------------------------------------------------------------------------------------- synthetic

def test_make_clip_kinds():
    for kind in CLIP_KINDS:
        clip = make_clip(kind, num_frames=6, size=(40, 48), seed=1)
        assert clip.shape == (6, 40, 48, 3) and clip.dtype == np.uint8
        np.testing.assert_array_equal(clip, make_clip(kind, num_frames=6, size=(40, 48), seed=1))
    change = {k: np.abs(np.diff(make_clip(k).astype(int), axis=0)).mean() for k in CLIP_KINDS}
    assert change["static"] == 0 < change["blurred"] < change["moving"] < change["noisy"]
    with pytest.raises(ValueError, match="unknown clip kind"):
        make_clip("spinning")


def test_decoded_frames_are_rgb_and_match_the_source(clips):
    red = load_video(clips["red"], SamplingConfig(min_pixels=784, max_pixels=784 * 4)).frames
    assert red[..., 0].mean() > 200 and red[..., 2].mean() < 30  # RGB, not OpenCV's BGR
    src = make_clip("moving", num_frames=16)
    info = probe(clips["moving"])
    plan = dataclasses.replace(plan_sampling(info, SamplingConfig()), frame_height=64, frame_width=64)
    got = read_frames(clips["moving"], plan, info)
    expected = src[list(plan.indices)].astype(int)
    assert np.abs(got - expected).mean() < 10  # x264 + 4:2:0 chroma loss only
    assert np.abs(got - expected[..., ::-1]).mean() > 30  # channel order matters at this tolerance


def test_pyav_fallback_when_decord_missing_gives_identical_pixels(clips, monkeypatch):
    cfg = SamplingConfig(min_frames=8, max_frames=8)
    native = load_video(clips["moving"], cfg)
    monkeypatch.setattr(video, "_DECORD", False)  # as if decord were not installed
    assert not video.decord_available()
    info = probe(clips["moving"])
    assert info.decoder == "pyav"
    fallback = load_video(clips["moving"], cfg)
    assert fallback.info.decoder == "pyav"
    np.testing.assert_array_equal(native.frames, fallback.frames)
    with pytest.raises(VideoDecodeError, match="not installed"):
        load_video(clips["moving"], cfg, decoder="decord")


@pytest.mark.skipif(not has_encoder("av1"), reason="this PyAV build has no AV1 encoder")
def test_av1_is_read_with_pyav(tmp_path):
    path = write_video(tmp_path / "clip_av1.mp4", make_clip("moving", num_frames=8), fps=8.0, codec="av1")
    info = probe(path)
    assert info.decoder == "pyav" and info.num_frames == 8
    v = load_video(path, SamplingConfig(min_pixels=784, max_pixels=64 * 64))
    assert v.info.decoder == "pyav" and v.frames.shape == (4, 56, 56, 3)


def test_one_frame_video_gives_two_identical_frames(clips):
    v = load_video(clips["one"])
    assert v.info.num_frames == 1 and v.plan.indices == (0, 0)
    np.testing.assert_array_equal(v.frames[0], v.frames[1])


def test_odd_size_and_fps(clips):
    info = probe(clips["odd"])
    assert (info.width, info.height, info.num_frames) == (64, 62, 30)  # cropped to even sides
    assert info.fps == pytest.approx(29.97, abs=1e-3)
    v = load_video(clips["odd"])
    assert v.plan.num_frames == 4 and v.frames.shape[1:] == (v.plan.frame_height, v.plan.frame_width, 3)


def test_mkv_without_header_count_is_counted(clips):
    assert probe(clips["mkv"]).num_frames == 16
    assert load_video(clips["mkv"]).plan.indices == (2, 6, 10, 14)


def test_motion_strategy_samples_the_moving_half_more(clips, monkeypatch):
    cfg = SamplingConfig(min_frames=8, max_frames=8)
    uniform = load_video(clips["half"], cfg)
    motion = load_video(clips["half"], dataclasses.replace(cfg, strategy="motion"))
    assert motion.plan.strategy == "motion" and motion.frames.shape == uniform.frames.shape
    assert len(motion.extra["motion_scores"]) == len(motion.extra["motion_candidates"]) == 32
    assert sum(i >= 32 for i in uniform.plan.indices) == 4
    assert sum(i >= 32 for i in motion.plan.indices) >= 6
    # the frames returned are the frames the plan names
    info = probe(clips["half"])
    np.testing.assert_array_equal(motion.frames, read_frames(clips["half"], motion.plan, info))
    monkeypatch.setattr(video, "_MOTION_MEMORY_BYTES", 0)  # force the small-candidates-then-picks path
    two_pass = load_video(clips["half"], dataclasses.replace(cfg, strategy="motion"))
    assert two_pass.plan.indices == motion.plan.indices
    np.testing.assert_array_equal(two_pass.frames, motion.frames)


def test_pyav_seeks_across_long_gaps(tmp_path):
    frames = np.zeros((400, 32, 32, 3), np.uint8)
    frames[..., 0] = (np.arange(400) % 200)[:, None, None]  # index-coded brightness
    path = write_video(tmp_path / "long.mp4", frames, fps=25.0)
    info = probe(path)
    plan = dataclasses.replace(plan_sampling(info, SamplingConfig()), indices=(3, 3, 390, 399),
                               frame_height=32, frame_width=32)
    got = read_frames(path, plan, info, decoder="pyav")
    assert np.abs(got[:, 16, 16, 0].astype(int) - [3, 3, 190, 199]).max() <= 3
    if video.decord_available():
        np.testing.assert_array_equal(got, read_frames(path, plan, info, decoder="decord"))


def test_truncated_tail_is_replanned_over_decodable_frames(clips, caplog):
    info = probe(clips["tail"])  # the header still says 16 frames; probe reads to the end (issue 19)
    assert info.header_frames == 16 and 1 < info.num_frames < 16
    v = load_video(clips["tail"])
    assert 1 < v.info.num_frames < 16 and v.info.header_frames == 16
    assert max(v.plan.indices) < v.info.num_frames
    info = dataclasses.replace(info, num_frames=16, header_frames=None)  # as a header-only probe saw it
    v = load_video(clips["tail"], info=info)
    assert v.info.decoder == "pyav" and any("decode; re-planned" in n for n in v.plan.notes)
    with caplog.at_level(logging.WARNING, logger="aigve.video"):
        frames = read_frames(clips["tail"], plan_sampling(info, SamplingConfig()), info)
    assert frames.shape[0] == 4 and "clamped" in caplog.text
    np.testing.assert_array_equal(frames[-1], frames[-2])  # both past the end -> the last decodable frame


# ---------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("kind", "reason"), [
    ("empty", "0 bytes"), ("garbage", "cannot be opened"), ("truncated", "truncated"), ("text", "text file"),
])
def test_corrupt_files_raise_with_the_file_name(tmp_path, kind, reason):
    path = write_corrupt(tmp_path / f"bad_{kind}.mp4", kind)
    for call in (probe, load_video):
        with pytest.raises(VideoDecodeError, match=reason) as err:
            call(path)
        assert f"bad_{kind}.mp4" in str(err.value) and err.value.path == str(path)


def test_missing_directory_and_audio_only_raise(tmp_path):
    with pytest.raises(VideoDecodeError, match="nothere.mp4: file not found"):
        probe(tmp_path / "nothere.mp4")
    with pytest.raises(VideoDecodeError, match="directory"):
        probe(tmp_path)
    audio = _audio_only(tmp_path / "speech.mp4")
    with pytest.raises(VideoDecodeError, match="speech.mp4: no video stream"):
        probe(audio)


def test_unknown_decoder_name(clips):
    info = probe(clips["moving"])
    with pytest.raises(ValueError, match="unknown decoder"):
        read_frames(clips["moving"], plan_sampling(info, SamplingConfig()), info, decoder="opencv")


def test_video_extensions():
    assert is_video_path("a/b/CLIP.MP4") and is_video_path("x.webm") and is_video_path(Path("y.gif"))
    assert not is_video_path("notes.txt") and not is_video_path("mp4")
    assert all(e.startswith(".") and e == e.lower() for e in VIDEO_EXTENSIONS)
