"""Sampling math against hand-computed values (no decoder involved)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aigve.config import SamplingConfig
from aigve.media import VideoInfo
from aigve.sampling import (
    frame_count,
    frame_motion,
    motion_candidates,
    motion_indices,
    plan_sampling,
    smart_resize,
    uniform_indices,
    visual_tokens,
)

CFG = SamplingConfig()  # 1 fps, 4..32 frames, 128..768 tokens per frame, 16384 tokens per clip
PX = {"min_pixels": CFG.min_pixels, "max_pixels": CFG.max_pixels}


def info(num_frames=16, fps=8.0, duration=2.0, width=512, height=512) -> VideoInfo:
    return VideoInfo(path="clip.mp4", num_frames=num_frames, fps=fps, duration_s=duration,
                     width=width, height=height, decoder="decord")


# ---------------------------------------------------------------------------------------------- smart_resize

@pytest.mark.parametrize(("hw", "expected"), [
    ((512, 512), (504, 504)),      # round(512 / 28) = 18 -> 504, area inside the range
    ((4320, 7680), (560, 1008)),   # beta = sqrt(4320*7680/602112) = 7.423 -> floor(581.96), floor(1034.6)
    ((64, 64), (336, 336)),        # beta = sqrt(100352/4096) = 4.95 -> ceil(316.8 / 28) = 12 -> 336
    ((480, 640), (476, 644)),      # 17 x 23 tokens
])
def test_smart_resize_hand_values(hw, expected):
    assert smart_resize(*hw, factor=28, **PX) == expected


def test_smart_resize_extreme_aspect_ratio_keeps_cap():
    # Qwen raises above 200:1; here the short side clamps to 28 and the long side is cut to the cap.
    assert smart_resize(10, 100_000, factor=28, **PX) == (28, 21504)  # 28 * 21504 == max_pixels
    assert smart_resize(100_000, 10, factor=28, **PX) == (21504, 28)
    assert smart_resize(1, 1, factor=28, min_pixels=784, max_pixels=784) == (28, 28)


@pytest.mark.parametrize(("hw", "expected"), [
    ((1080, 1920), (560, 1008)), ((720, 1280), (560, 1008)), ((2160, 3840), (560, 1008)),
    ((1920, 1080), (1008, 560)), ((1000, 37), (1652, 84)), ((333, 777), (336, 784)), ((240, 320), (280, 392)),
])
def test_smart_resize_matches_qwen_reference_values(hw, expected):
    # Expected values from qwen_vl_utils 0.0.14 smart_resize (factor 28, same min/max pixels); recorded
    # here because importing qwen_vl_utils pulls in torch (seconds). 0 mismatches on 3000 random sizes.
    assert smart_resize(*hw, factor=28, **PX) == expected


def test_smart_resize_never_exceeds_max_pixels():
    rng = np.random.default_rng(1)
    for _ in range(500):
        h, w = (int(v) for v in rng.integers(1, 20_000, 2))
        max_px = int(rng.integers(784, 2_000_000))
        min_px = int(rng.integers(784, max_px + 1))
        rh, rw = smart_resize(h, w, factor=28, min_pixels=min_px, max_pixels=max_px)
        assert rh % 28 == 0 and rw % 28 == 0 and rh >= 28 and rw >= 28
        assert rh * rw <= max_px, (h, w, min_px, max_px)


def test_smart_resize_rejects_bad_input():
    with pytest.raises(ValueError, match="positive"):
        smart_resize(0, 10, **PX)
    with pytest.raises(ValueError, match="one token"):
        smart_resize(10, 10, min_pixels=100, max_pixels=100)


# ---------------------------------------------------------------------------------------------- frame_count

@pytest.mark.parametrize(("duration", "available", "expected"), [
    (2.0, 16, 4),       # round(2) = 2 -> min_frames 4
    (10.4, 500, 10),    # round -> 10, already even
    (10.6, 500, 12),    # round -> 11 -> rounded up to a whole temporal patch
    (60.0, 1800, 32),   # max_frames
    (1 / 24, 1, 2),     # 1-frame video: 2 (the frame repeats), not min_frames
    (0.1, 3, 4),        # 3 frames -> 4 (one repeats)
    (5.0, 5, 6),        # round(5) = 5 -> 6 (one repeats)
    (0.0, 0, 4),        # unknown frame count: no cap
])
def test_frame_count_hand_values(duration, available, expected):
    assert frame_count(duration, 1.0, available, CFG) == expected


def test_frame_count_odd_max_frames_rounds_down():
    cfg = SamplingConfig(max_frames=31)
    assert frame_count(60.0, 1.0, 10_000, cfg) == 30
    assert frame_count(60.0, 2.0, 10_000, SamplingConfig(fps=2.0, max_frames=64)) == 64


def test_frame_count_rejects_nan():
    with pytest.raises(ValueError, match="duration_s"):
        frame_count(math.nan, 1.0, 10, CFG)


# ---------------------------------------------------------------------------------------------- indices

@pytest.mark.parametrize(("total", "n", "expected"), [
    (16, 4, [2, 6, 10, 14]),    # floor((i + 0.5) * 4)
    (1, 2, [0, 0]),
    (3, 4, [0, 1, 1, 2]),       # floor(0.375, 1.125, 1.875, 2.625)
    (100, 1, [50]),
    (300, 10, [15, 45, 75, 105, 135, 165, 195, 225, 255, 285]),
])
def test_uniform_indices_hand_values(total, n, expected):
    assert uniform_indices(total, n) == expected


def test_uniform_jitter_is_seeded_and_stays_in_its_interval():
    a = uniform_indices(1000, 10, jitter=0.9, rng=7)
    assert a == uniform_indices(1000, 10, jitter=0.9, rng=np.random.default_rng(7))
    assert a != uniform_indices(1000, 10, jitter=0.9, rng=8)
    assert a != uniform_indices(1000, 10)
    for i, index in enumerate(a):  # interval i is [100 i, 100 (i + 1)); jitter 0.9 keeps 5 frames off its edges
        assert 100 * i + 5 <= index < 100 * (i + 1) - 4
    assert a == sorted(a)


def test_motion_indices_hand_values():
    motion = np.array([0.0] * 10 + [1.0] * 10)
    # density 0.025 per static bin, 0.075 per moving bin; quantiles (i + 0.5) / 8 through the CDF
    assert motion_indices(motion, 8, floor=0.5) == [2, 7, 10, 12, 14, 15, 17, 19]


def test_motion_indices_uniform_cases_reduce_to_uniform_sampling():
    assert motion_indices(np.ones(40), 8) == uniform_indices(40, 8)
    assert motion_indices(np.zeros(40), 8) == uniform_indices(40, 8)
    assert motion_indices(np.random.default_rng(0).random(40), 8, floor=1.0) == uniform_indices(40, 8)
    assert motion_indices(np.array([np.nan, -1.0, np.inf, 0.0]), 2) == uniform_indices(4, 2)


def test_motion_indices_are_denser_where_motion_is_high():
    rng = np.random.default_rng(3)
    motion = np.concatenate([rng.random(50) * 0.01, 1.0 + rng.random(50)])
    picked = motion_indices(motion, 16)
    assert picked == sorted(picked)
    assert sum(i >= 50 for i in picked) >= 11  # ~75 % of the density sits in the moving half
    assert sum(i < 50 for i in picked) >= 2    # the floor keeps frames in the static half


def test_frame_motion_and_candidates():
    assert frame_motion([1.0, 3.0]).tolist() == [1.0, 2.0, 3.0]
    assert frame_motion([]).tolist() == [0.0]
    assert motion_candidates(16, 4) == list(range(16))   # 4 x 4 = 16 candidates: every frame
    assert motion_candidates(1000, 2) == uniform_indices(1000, 8)


# ---------------------------------------------------------------------------------------------- plan_sampling

def test_plan_for_the_real_lavie_clip_shape():
    plan = plan_sampling(info(), CFG)  # 16 frames, 8 fps, 2 s, 512 x 512
    assert plan.indices == (2, 6, 10, 14)
    assert plan.timestamps == (0.25, 0.75, 1.25, 1.75)
    assert (plan.frame_height, plan.frame_width) == (504, 504)
    assert plan.sampled_fps == 2.0  # 8 fps * 4 / 16
    assert CFG.temporal_patch / plan.sampled_fps == 1.0  # Qwen2.5-VL second_per_grid_ts
    assert plan.visual_tokens == 2 * 18 * 18
    assert not plan.fps_assumed and plan.notes == () and plan.strategy == "uniform"


def test_plan_one_frame_video_repeats_it():
    plan = plan_sampling(info(num_frames=1, fps=24.0, duration=None, width=640, height=480), CFG)
    assert plan.indices == (0, 0) and plan.timestamps == (0.0, 0.0)
    assert plan.sampled_fps == 24.0  # capped at the source rate when frames repeat
    assert any("repeat" in n for n in plan.notes)


def test_plan_odd_fps():
    plan = plan_sampling(info(num_frames=300, fps=29.97, duration=300 / 29.97), CFG)
    assert plan.indices == (15, 45, 75, 105, 135, 165, 195, 225, 255, 285)
    assert plan.timestamps[0] == pytest.approx(15 / 29.97)
    assert plan.sampled_fps == pytest.approx(29.97 * 10 / 300)


@pytest.mark.parametrize("fps", [None, 0.0, math.nan, math.inf, -5.0])
def test_plan_missing_fps_assumes_config_rate(fps):
    plan = plan_sampling(info(num_frames=48, fps=fps, duration=None, width=640, height=480), CFG)
    assert plan.fps_assumed and plan.source_fps == 24.0
    assert plan.indices == (6, 18, 30, 42)  # 48 frames at 24 fps = 2 s -> 4 frames
    assert plan.sampled_fps == 2.0
    assert any("assumed 24 fps" in n for n in plan.notes)


def test_plan_missing_fps_with_duration_derives_rate():
    plan = plan_sampling(info(num_frames=100, fps=None, duration=4.0), CFG)
    assert plan.source_fps == 25.0 and not plan.fps_assumed
    assert any("derived" in n for n in plan.notes)


def test_plan_missing_duration_uses_frames_over_fps():
    plan = plan_sampling(info(num_frames=240, fps=24.0, duration=None), CFG)
    assert plan.num_frames == 10


def test_plan_huge_long_video():
    plan = plan_sampling(info(num_frames=108_000, fps=29.97, duration=3603.6, width=7680, height=4320), CFG)
    assert plan.num_frames == 32
    assert (plan.frame_height, plan.frame_width) == (560, 1008)
    assert plan.visual_tokens == 16 * 20 * 36 <= CFG.max_visual_tokens
    assert plan.sampled_fps == pytest.approx(32 / 3603.6, rel=1e-3)


def test_plan_shrinks_frames_then_count_to_fit_budget():
    small = SamplingConfig(max_visual_tokens=150)  # 4 frames x 128-token minimum would be 256+
    plan = plan_sampling(info(num_frames=48, fps=24.0, duration=2.0, width=640, height=480), small)
    assert plan.num_frames == 2 and plan.visual_tokens <= 150
    assert any("sampled 2 frames" in n for n in plan.notes)
    tiny = SamplingConfig(max_visual_tokens=50)  # not even 2 frames at min_pixels: go below it
    plan = plan_sampling(info(num_frames=48, fps=24.0, duration=2.0, width=640, height=480), tiny)
    assert plan.num_frames == 2 and plan.visual_tokens <= 50
    assert (plan.frame_height, plan.frame_width) == (168, 224)
    assert any("below min_pixels" in n for n in plan.notes)


def test_plan_budget_and_invariants_on_random_cases():
    rng = np.random.default_rng(42)
    for _ in range(400):
        cfg = SamplingConfig(
            fps=float(rng.choice([0.5, 1.0, 2.0, 4.0])),
            min_frames=int(rng.integers(1, 8)), max_frames=int(rng.integers(8, 96)),
            min_pixels=784 * int(rng.integers(1, 64)), max_pixels=784 * int(rng.integers(64, 2048)),
            max_visual_tokens=int(rng.integers(1, 40_000)),
        )
        n_src = int(rng.integers(1, 200_000))
        fps = float(rng.choice([8.0, 23.976, 29.97, 60.0, 0.0]))
        vi = info(num_frames=n_src, fps=fps or None, duration=None,
                  width=int(rng.integers(1, 9000)), height=int(rng.integers(1, 9000)))
        plan = plan_sampling(vi, cfg, rng=int(rng.integers(1 << 30)))
        n, h, w = plan.num_frames, plan.frame_height, plan.frame_width
        assert plan.visual_tokens == visual_tokens(n, h, w) <= cfg.max_visual_tokens
        assert n % 2 == 0 and n >= 2 and h % 28 == 0 and w % 28 == 0
        assert list(plan.indices) == sorted(plan.indices) and 0 <= plan.indices[0] and plan.indices[-1] < n_src
        assert len(plan.timestamps) == n and plan.sampled_fps <= plan.source_fps


def test_plan_jitter_reproduces_with_seed_and_varies_with_rng():
    cfg = SamplingConfig(jitter=0.8, seed=3)
    vi = info(num_frames=3000, fps=30.0, duration=100.0)
    assert plan_sampling(vi, cfg).indices == plan_sampling(vi, cfg).indices
    gen = np.random.default_rng(0)
    assert plan_sampling(vi, cfg, rng=gen).indices != plan_sampling(vi, cfg, rng=gen).indices
    assert plan_sampling(vi, cfg).indices != plan_sampling(vi, SamplingConfig()).indices


def test_plan_motion_maps_candidate_scores_to_source_frames():
    vi = info(num_frames=160, fps=8.0, duration=20.0)
    cfg = SamplingConfig(strategy="motion", min_frames=4, max_frames=4)
    candidates = motion_candidates(160, 4)  # 4 x 4 = 16 candidates: frames 5, 15, ..., 155
    assert candidates == list(range(5, 160, 10))
    motion = np.where(np.arange(16) >= 8, 1.0, 0.0)  # all change in the second half
    plan = plan_sampling(vi, cfg, motion=motion)
    assert plan.strategy == "motion"
    assert plan.indices == tuple(candidates[i] for i in motion_indices(motion, 4))
    assert sum(i >= 80 for i in plan.indices) == 3
    assert plan_sampling(vi, SamplingConfig(min_frames=4, max_frames=4), motion=motion).strategy == "uniform"
    no_scores = plan_sampling(vi, cfg)
    assert no_scores.strategy == "uniform" and any("without motion" in n for n in no_scores.notes)
