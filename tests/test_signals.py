"""The signals backend end to end: contract, directions on synthetic clips, real clips, calibration files."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from aigve.aspects import ASPECT_KEYS
from aigve.backends.base import Backend, default_sampling
from aigve.backends.signals import SignalsBackend
from aigve.config import SamplingConfig
from aigve.media import SampledVideo, SamplingPlan, VideoInfo
from aigve.registry import BACKENDS
from aigve.signals.calibration import Calibration, default_calibration
from aigve.testing.videos import make_clip, write_video

MEASURED = ("technical_quality", "dynamic", "consistency", "overall")
UNSCORED = ("element_presence", "element_quality", "action_presence", "action_quality", "physics")


def sampled(frames: np.ndarray, fps: float = 8.0, indices: tuple[int, ...] | None = None) -> SampledVideo:
    """A SampledVideo for in-memory frames, as if every frame of an ``fps`` video was sampled."""
    t, h, w, _ = frames.shape
    idx = tuple(indices if indices is not None else range(t))
    info = VideoInfo("synthetic.mp4", max(idx) + 1, fps, (max(idx) + 1) / fps, w, h, "array")
    plan = SamplingPlan(idx, tuple(i / fps for i in idx), h, w, fps, fps, False, "uniform", 0)
    return SampledVideo("synthetic.mp4", frames, info, plan)


@pytest.fixture(scope="module")
def backend() -> SignalsBackend:
    return SignalsBackend()


@pytest.fixture(scope="module")
def synthetic(backend) -> dict:
    """Backend outputs for each make_clip kind at 128x128, scored from memory."""
    return {kind: backend.score([sampled(make_clip(kind, size=(128, 128)))], [""])[0]
            for kind in ("static", "moving", "noisy", "blurred", "flicker", "camera_pan")}


def _valid(out) -> None:
    scores = out.parsed.scores
    assert set(scores) == set(ASPECT_KEYS)
    for key in MEASURED:
        assert isinstance(scores[key], int) and 0 <= scores[key] <= 5, (key, scores[key])
        assert out.parsed.comments[key]
    for key in UNSCORED:
        assert scores[key] is None
        assert "--backend macs" in out.parsed.comments[key]
    assert "only" in out.parsed.comments["overall"]
    json.dumps(out.extra)  # stored with results: must be JSON as is
    assert all(v is None or (isinstance(v, float) and math.isfinite(v)) for v in out.extra["measurements"].values())


def test_contract_registry_and_describe(backend):
    assert isinstance(backend, Backend)
    assert isinstance(BACKENDS.create("signals"), SignalsBackend)
    d = backend.describe()
    assert d["name"] == "signals" and d["model"] is None and d["calibration"] == "default"
    assert d["calibration_fingerprint"] == default_calibration().fingerprint()
    with pytest.raises(ValueError, match="prompt"):
        backend.score([sampled(make_clip("static"))], [])


def test_sampling_overrides_make_a_valid_config_with_small_dense_frames(backend):
    from aigve.sampling import smart_resize

    cfg = default_sampling(backend, None)
    assert isinstance(cfg, SamplingConfig) and cfg.fps == 8.0 and cfg.max_frames == 32
    assert smart_resize(512, 512, factor=cfg.patch_factor, min_pixels=cfg.min_pixels,
                        max_pixels=cfg.max_pixels) == (256, 256)
    assert smart_resize(64, 64, factor=cfg.patch_factor, min_pixels=cfg.min_pixels,
                        max_pixels=cfg.max_pixels) == (64, 64)  # small videos are not upscaled
    assert default_sampling(backend, {"fps": 2.0}).fps == 2.0  # the user still wins


@pytest.mark.parametrize("kind", ["static", "moving", "noisy", "blurred", "flicker", "camera_pan"])
def test_every_synthetic_kind_gives_valid_output(synthetic, kind):
    _valid(synthetic[kind])


def test_dynamic_static_below_moving_and_pan(synthetic):
    dyn = {k: v.parsed.scores["dynamic"] for k, v in synthetic.items()}
    flow = {k: v.extra["measurements"]["flow_pct_diag_s"] for k, v in synthetic.items()}
    assert dyn["static"] == 0 and flow["static"] < 0.1
    assert dyn["static"] < dyn["moving"] and dyn["static"] < dyn["camera_pan"]
    m = synthetic["camera_pan"].extra["measurements"]
    assert m["camera_pct_diag_s"] > 5 * m["object_pct_diag_s"]  # a pan is read as camera motion
    m = synthetic["moving"].extra["measurements"]
    assert m["object_pct_diag_s"] > m["camera_pct_diag_s"]  # a moving object is not


def test_technical_quality_clean_above_noisy_and_blurred(synthetic):
    tq = {k: v.parsed.scores["technical_quality"] for k, v in synthetic.items()}
    meas = {k: v.extra["measurements"] for k, v in synthetic.items()}
    assert tq["moving"] > tq["noisy"] and tq["moving"] > tq["blurred"]
    assert meas["noisy"]["noise_sigma"] > 10 * meas["moving"]["noise_sigma"]
    assert meas["blurred"]["edge_width"] > 1.5 * meas["moving"]["edge_width"]


def test_consistency_smooth_above_flicker(synthetic):
    cons = {k: v.parsed.scores["consistency"] for k, v in synthetic.items()}
    assert cons["moving"] > cons["flicker"] and cons["static"] > cons["flicker"]
    assert synthetic["flicker"].extra["measurements"]["flicker"] > 20 * synthetic["moving"].extra["measurements"]["flicker"]


def test_flicker_on_a_still_clip_is_not_dynamic(backend):
    """A still clip whose global brightness alternates +-35 % every frame (make_clip's flicker gain) is
    not motion: dynamic at most 1 and below the moving clip; flicker still costs consistency."""
    clips = {kind: make_clip(kind) for kind in ("static", "moving", "flicker")}
    gain = 1.0 + 0.35 * np.where(np.arange(len(clips["static"])) % 2 == 0, 1.0, -1.0)
    clips["static_flicker"] = np.clip(clips["static"] * gain[:, None, None, None], 0, 255).astype(np.uint8)
    s = {k: backend.score([sampled(v)], [""])[0].parsed.scores for k, v in clips.items()}
    assert s["static_flicker"]["dynamic"] <= 1 and s["static_flicker"]["dynamic"] < s["moving"]["dynamic"]
    assert s["flicker"]["consistency"] < s["moving"]["consistency"]
    assert s["static_flicker"]["consistency"] < s["static"]["consistency"]


def test_comments_quote_checkable_numbers(synthetic):
    out = synthetic["moving"]
    m, c = out.extra["measurements"], out.parsed.comments
    assert f"{m['flow_pct_diag_s']:.1f}% of the frame diagonal per second" in c["dynamic"]
    assert f"{m['noise_sigma']:.1f} grey levels" in c["technical_quality"]
    assert f"{m['warp_error']:.1f} grey levels" in c["consistency"]
    assert re.search(r"technical quality \d\.\d \(weight 0\.4\)", c["overall"])
    assert synthetic["static"].parsed.comments["dynamic"].count("nearly static") == 1
    assert "flicker" in synthetic["flicker"].parsed.comments["consistency"]
    assert set(out.extra["units"]) == set(m)


def test_single_frame_video_scores_quality_only(backend):
    frame = make_clip("moving", num_frames=1, size=(64, 64))
    out = backend.score([sampled(np.repeat(frame, 2, axis=0), indices=(0, 0))], [""])[0]
    s = out.parsed.scores
    assert s["dynamic"] is None and s["consistency"] is None
    assert s["technical_quality"] is not None and s["overall"] is not None
    assert "single distinct frame" in out.parsed.comments["dynamic"]
    assert "technical quality" in out.parsed.comments["overall"] and "dynamic degree" not in out.parsed.comments["overall"]


def test_calibration_file_changes_scores(tmp_path, synthetic):
    from aigve.signals.calibration import Curve

    base = default_calibration()
    # A calibration whose humans call every clip dynamic 1 and everything else as before.
    flat = Calibration({**base.curves}, {**base.aspects}, dict(base.overall_weights), source="test")
    flat.aspects["dynamic"] = type(base.aspects["dynamic"])(base.aspects["dynamic"].measures, "max",
                                                            Curve((0.0, 5.0), (1.0, 1.0)))
    path = flat.save(tmp_path / "cal.json")
    be = SignalsBackend(calibration=path)
    assert be.describe()["calibration"] == str(path)
    assert be.describe()["calibration_fingerprint"] != SignalsBackend().describe()["calibration_fingerprint"]
    out = be.score([sampled(make_clip("camera_pan", size=(128, 128)))], [""])[0]
    assert out.parsed.scores["dynamic"] == 1 != synthetic["camera_pan"].parsed.scores["dynamic"]
    # same measurements (up to float rounding: OpenCV's threaded optical flow is not bit-reproducible)
    assert out.extra["measurements"] == pytest.approx(synthetic["camera_pan"].extra["measurements"], rel=1e-6)


def test_written_files_keep_the_directions(tmp_path, backend):
    """Synthetic clips through the codec and the real loader at the backend's sampling."""
    from aigve.video import load_video

    cfg = default_sampling(backend, None)
    out = {}
    for kind in ("static", "moving", "noisy", "blurred", "flicker"):
        path = write_video(tmp_path / f"{kind}.mp4", make_clip(kind, size=(128, 128)), fps=8.0)
        video = load_video(path, cfg)
        assert video.frames.shape == (16, 128, 128, 3)
        out[kind] = backend.score([video], ["a prompt"])[0]
        _valid(out[kind])
    s = {k: v.parsed.scores for k, v in out.items()}
    assert s["static"]["dynamic"] < s["moving"]["dynamic"]
    assert s["moving"]["technical_quality"] > s["noisy"]["technical_quality"]
    assert s["moving"]["technical_quality"] > s["blurred"]["technical_quality"]
    assert s["moving"]["consistency"] > s["flicker"]["consistency"]


def test_shared_clips_all_score(shared_videos, backend):
    from aigve.video import load_video

    paths = sorted(shared_videos.glob("*.mp4"))
    assert len(paths) >= 3
    cfg = default_sampling(backend, None)
    for path in paths:
        video = load_video(path, cfg)
        assert video.frames.shape[1:] == (256, 256, 3)
        out = backend.score([video], ["A beautiful coastal beach"])[0]
        _valid(out)
        assert out.extra["measurements"]["pairs"] >= 1


def test_through_the_evaluator(shared_videos):
    from aigve.evaluator import load_evaluator

    path = sorted(shared_videos.glob("*.mp4"))[0]
    result = load_evaluator("signals", prefetch=0).evaluate(path, "A beautiful coastal beach")
    assert result.ok, result.error
    assert all(isinstance(result.scores[k], int) for k in MEASURED)
    assert all(result.scores[k] is None for k in UNSCORED)
    assert result.sampling["frame_width"] == 256 and result.backend["name"] == "signals"
    assert "measurements" in result.extra
