"""Per-frame image statistics (aigve.signals.quality) against hand-computed values."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from aigve.signals import quality as q


def _texture(seed: int = 0, size: int = 128) -> np.ndarray:
    """Grey texture with fine detail, float32 (size, size) in ~0-255."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (size // 4, size // 4)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_NEAREST)


def test_luma_uses_bt601_weights():
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    assert q.luma(px)[0].tolist() == pytest.approx([76.245, 149.685, 29.07, 0.299 * 10 + 0.587 * 20 + 0.114 * 30], abs=1e-3)


def test_colourfulness_hand_values():
    grey = np.full((8, 8, 3), 128, np.uint8)
    assert q.colourfulness(grey) == pytest.approx(0.0)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255
    # rg = 255, yb = 127.5 everywhere: no spread, so M = 0.3 * hypot(255, 127.5)
    assert q.colourfulness(red) == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-5)


def test_exposure_half_black_half_white():
    g = np.zeros((10, 10), np.float32)
    g[:, 5:] = 255
    e = q.exposure(g)
    assert e == pytest.approx({"luma_mean": 127.5, "exposure_deviation": 0.0, "clipped_fraction": 1.0,
                               "contrast_rms": 127.5})


def test_noise_sigma_zero_on_flat_and_linear_ramp():
    assert q.noise_sigma(np.full((64, 64), 90, np.float32)) == pytest.approx(0.0, abs=1e-6)
    ramp = np.tile(np.arange(64, dtype=np.float32) * 3, (64, 1)) + np.arange(64, dtype=np.float32)[:, None]
    assert q.noise_sigma(ramp) == pytest.approx(0.0, abs=1e-4)  # the kernel cancels planes


@pytest.mark.parametrize("sigma", [3.0, 10.0])
def test_noise_sigma_recovers_gaussian_noise(sigma):
    rng = np.random.default_rng(1)
    g = 128 + rng.normal(0, sigma, (256, 256)).astype(np.float32)
    # The 10th-percentile block reads a little low for pure noise; within 15 %.
    assert q.noise_sigma(g) == pytest.approx(sigma, rel=0.15)


def test_noise_sigma_ignores_texture_when_flat_areas_exist():
    g = np.full((128, 128), 100, np.float32)
    g[:, :64] = _texture(2)[:, :64]  # heavy texture on half the frame, flat elsewhere
    assert q.noise_sigma(g) < 0.5


def test_edge_width_step_and_ramp():
    step = np.zeros((64, 64), np.float32)
    step[:, 32:] = 200
    assert q.edge_width(step) == pytest.approx(2.0)  # central difference spreads a step over 2 px
    ramp = np.clip((np.arange(64, dtype=np.float32) - 27) * 20, 0, 200)  # 0 -> 200 over 10 px
    assert q.edge_width(np.tile(ramp, (64, 1))) == pytest.approx(10.0)
    assert q.edge_width(np.full((64, 64), 50, np.float32)) is None


def test_blur_measures_rise_with_blur():
    sharp = _texture(3)
    soft = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    assert q.edge_width(soft) > q.edge_width(sharp) + 2
    assert q.blur_effect(soft) > q.blur_effect(sharp) + 0.2
    assert q.laplacian_variance(soft) < q.laplacian_variance(sharp) / 4
    assert q.blur_effect(np.full((32, 32), 7, np.float32)) == 1.0
    assert 0.0 <= q.blur_effect(sharp) <= 1.0


def test_blockiness_finds_block_grid():
    rng = np.random.default_rng(4)
    blocks = np.kron(rng.uniform(0, 255, (16, 16)), np.ones((8, 8))).astype(np.float32)
    smooth = cv2.GaussianBlur(rng.uniform(0, 255, (128, 128)).astype(np.float32), (0, 0), 3)
    assert q.blockiness(blocks, 8) > 5.0  # all steps sit on the grid
    assert q.blockiness(smooth, 8) < 1.3
    assert q.blockiness(np.full((64, 64), 9, np.float32), 8) == 1.0  # flat: no grid
    assert q.blockiness(smooth, 1) is None
    assert q.blockiness(smooth[:16, :16], 8) is None  # fewer than 4 blocks across


def test_frame_quality_keys_and_types():
    rgb = np.repeat(_texture(5).astype(np.uint8)[..., None], 3, axis=2)
    out = q.frame_quality(rgb, 8)
    assert set(out) == {"edge_width", "blur_effect", "laplacian_var", "noise_sigma", "blockiness", "colourfulness",
                        "luma_mean", "exposure_deviation", "clipped_fraction", "contrast_rms"}
    assert all(isinstance(v, float) for v in out.values())
    assert q.frame_quality(rgb, None)["blockiness"] is None
