"""Flow, camera/object split, warping error, flicker and their normalisation (aigve.signals.motion)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from aigve.signals import motion as m


def _scene(h: int = 96, w: int = 192, seed: int = 0) -> np.ndarray:
    """Smooth-but-detailed RGB uint8 texture that optical flow can track."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (h // 6, w // 6, 3)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def _pan(world: np.ndarray, width: int, step_px: float, n: int) -> np.ndarray:
    """``n`` crops of ``world`` sliding right by ``step_px`` per frame (sub-pixel via warpAffine)."""
    out = []
    for t in range(n):
        shift = np.float32([[1, 0, -t * step_px], [0, 1, 0]])
        out.append(cv2.warpAffine(world, shift, (world.shape[1], world.shape[0]), flags=cv2.INTER_LINEAR)[:, :width])
    return np.stack(out)


def test_flicker_hand_values():
    alternating = np.array([[10.0], [20.0], [10.0], [20.0]])
    assert m.flicker(alternating) == pytest.approx((10.0, 10.0))
    fade = np.array([[10.0, 0.0], [12.0, 1.0], [14.0, 2.0], [16.0, 3.0]])  # steady ramp: no flicker
    assert m.flicker(fade) == pytest.approx((0.0, 0.0))
    assert m.flicker(np.array([[5.0], [8.0]])) == pytest.approx((3.0, 3.0))  # two frames: plain difference
    assert m.flicker(np.array([[5.0]])) == (0.0, 0.0)


def test_match_histogram_undoes_global_brightness_changes():
    ref = np.random.default_rng(2).integers(0, 256, (48, 64)).astype(np.uint8)
    assert np.array_equal(m.match_histogram(ref, ref), ref)  # matched to itself: unchanged
    dimmed = np.clip(ref * 0.6 + 10.0, 0, 255).astype(np.uint8)  # gain + offset (levels merge on rounding)
    assert np.abs(m.match_histogram(dimmed, ref).astype(int) - ref).max() <= 1
    gamma = (255.0 * (ref / 255.0) ** 2.2).round().astype(np.uint8)  # any monotone map, not only affine
    assert np.abs(m.match_histogram(gamma, ref).astype(int) - ref).mean() < 1.0
    # Hand values: levels {10, 20} on half the pixels each, matched to a reference with levels {100, 200}.
    image = np.array([[10, 10, 20, 20]], np.uint8)
    assert m.match_histogram(image, np.array([[100, 200, 100, 200]], np.uint8)).tolist() == [[100, 100, 200, 200]]
    assert m.match_histogram(image, np.full((2, 2), 77, np.uint8)).tolist() == [[77, 77, 77, 77]]


def test_brightness_flicker_on_a_still_scene_is_not_read_as_motion():
    """Alternating +-35 % gain (with clipping) on a still textured clip: raw flow sees motion, matched flow
    hardly any, and the warping error (consistency) still sees the flicker."""
    from aigve.testing.videos import make_clip

    still = make_clip("static", size=(64, 64))
    gain = 1.0 + 0.35 * np.where(np.arange(len(still)) % 2 == 0, 1.0, -1.0)
    flickering = np.clip(still * gain[:, None, None, None], 0, 255).astype(np.uint8)
    pairs = m.frame_pairs(range(len(still)), [t / 8 for t in range(len(still))], 8.0)
    raw = m.motion_measures(flickering, pairs, match_brightness=False)
    matched = m.motion_measures(flickering, pairs)
    assert raw["flow_pct_diag_s"] > 4.0 and raw["object_p98_pct_diag_s"] > 10.0  # the bug this guards against
    assert matched["flow_pct_diag_s"] < 0.35 * raw["flow_pct_diag_s"] and matched["flow_pct_diag_s"] < 2.0
    assert matched["object_p98_pct_diag_s"] < 4.0
    assert matched["warp_error"] > 50 and matched["flicker"] == raw["flicker"] > 50


def test_frame_pairs_skip_repeats_and_use_timestamps():
    pairs = m.frame_pairs([0, 0, 4, 8], [0.0, 0.0, 0.5, 1.0], 2.0)
    assert pairs == [(1, 2, 0.5), (2, 3, 0.5)]
    # Non-increasing timestamps fall back to 1 / sampled_fps.
    assert m.frame_pairs([0, 3], [0.0, 0.0], 4.0) == [(0, 1, 0.25)]
    assert m.frame_pairs([0, 0], [0.0, 0.0], 4.0) == []


def test_optical_flow_recovers_translation():
    frames = _pan(_scene(), 128, 3.0, 2)
    gray = cv2.cvtColor(frames.reshape(-1, 128, 3), cv2.COLOR_RGB2GRAY).reshape(2, 96, 128)
    flow = m.optical_flow(gray[0], gray[1])
    # Content moves left by 3 px: prev(x) = next(x - 3).
    assert np.median(flow[..., 0]) == pytest.approx(-3.0, abs=0.2)
    assert np.median(flow[..., 1]) == pytest.approx(0.0, abs=0.2)


def test_camera_flow_separates_pan_from_object():
    flow = np.zeros((60, 80, 2), np.float32)
    flow[..., 0] = 2.0  # whole-frame pan
    flow[20:30, 30:40] = (2.0, 6.0)  # a small object moving down on top of it
    cam, model = m.camera_flow(flow)
    assert model == "similarity"
    assert np.allclose(cam[..., 0], 2.0, atol=1e-3) and np.allclose(cam[..., 1], 0.0, atol=1e-3)
    resid = np.linalg.norm(flow - cam, axis=-1)
    assert resid[25, 35] == pytest.approx(6.0, abs=1e-3) and resid[5, 5] == pytest.approx(0.0, abs=1e-3)


def test_warp_error_zero_for_exact_motion():
    frame = np.random.default_rng(1).uniform(0, 255, (40, 50)).astype(np.float32)
    assert m.warp_error(frame, frame, np.zeros((40, 50, 2), np.float32)) == 0.0
    shifted = np.roll(frame, 2, axis=1)  # next(x) = prev(x - 2) -> flow (+2, 0)
    flow = np.zeros((40, 50, 2), np.float32)
    flow[..., 0] = 2.0
    assert m.warp_error(frame, shifted, flow) == pytest.approx(0.0, abs=1e-4)  # wrap-around cols are out of frame
    assert m.warp_error(frame, shifted, np.zeros_like(flow)) > 20


def test_motion_measures_static_and_units():
    still = np.repeat(_scene()[None, :, :128], 4, axis=0)
    pairs = m.frame_pairs([0, 1, 2, 3], [0, 0.125, 0.25, 0.375], 8.0)
    out = m.motion_measures(still, pairs)
    assert out["pairs"] == 3.0
    assert out["flow_pct_diag_s"] == pytest.approx(0.0, abs=0.05)
    assert out["warp_error"] == pytest.approx(0.0, abs=1e-3) and out["flicker"] == pytest.approx(0.0, abs=1e-6)


def test_motion_measures_without_pairs_is_none():
    out = m.motion_measures(_scene()[None], [])
    assert out["pairs"] == 0.0
    assert out["flow_pct_diag_s"] is None and out["warp_error"] is None and out["flicker"] is None


def test_flow_normalisation_is_resolution_and_rate_independent():
    """The same pan at two resolutions and two sampling rates reads the same %diag/s."""
    world = _scene(96, 256)
    # 2 px/frame at 128 px wide, 8 fps -> 16 px/s over a 96x128 frame (diagonal 160 px) = 10 %diag/s.
    full = m.motion_measures(_pan(world, 128, 2.0, 5), m.frame_pairs(range(5), [t / 8 for t in range(5)], 8.0))
    assert full["flow_pct_diag_s"] == pytest.approx(100 * 16 / math.hypot(96, 128), rel=0.05)
    assert full["camera_pct_diag_s"] == pytest.approx(full["flow_pct_diag_s"], rel=0.05)
    assert full["object_pct_diag_s"] < 0.2 * full["flow_pct_diag_s"]
    # Half the resolution (1 px/frame at 64 px wide), same speed relative to the frame.
    half_world = cv2.resize(world, (128, 48), interpolation=cv2.INTER_AREA)
    half = m.motion_measures(_pan(half_world, 64, 1.0, 5), m.frame_pairs(range(5), [t / 8 for t in range(5)], 8.0))
    # Half the sampling rate: 4 px between samples 0.25 s apart.
    slow = m.motion_measures(_pan(world, 128, 4.0, 3), m.frame_pairs([0, 2, 4], [0.0, 0.25, 0.5], 4.0))
    for other in (half, slow):
        assert other["flow_pct_diag_s"] == pytest.approx(full["flow_pct_diag_s"], rel=0.05)
    assert slow["flow_px_per_pair"] == pytest.approx(2 * full["flow_px_per_pair"], rel=0.05)
