"""No-reference image quality statistics of single frames: pure functions on numpy arrays.

Every function takes a grey frame ``gray`` (H, W) float32 in grey levels 0-255 (BT.601 luma, see
:func:`luma`) or an RGB frame (H, W, 3) uint8, and returns plain floats. Units are grey levels of the
frame *as sampled* (after resizing), so values depend a little on the sampling size; the signals
backend fixes that size (see ``SignalsBackend.sampling_overrides``).

Why hand-written: OpenCV's ``quality`` module (BRISQUE) ships only in opencv-contrib, not in the
headless wheel this project depends on, and BRISQUE/NIQE need trained models we cannot download.
The statistics below are short published formulas, each cited where it is defined.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# Immerkaer (1996) noise-estimation kernel: the difference of two Laplacians, which cancels
# smooth image structure up to second order and leaves (mostly) noise.
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)


def luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB uint8 frames (..., H, W, 3) -> float32 (..., H, W) in 0-255."""
    rgb = np.asarray(frames, dtype=np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def blur_effect(gray: np.ndarray, size: int = 9) -> float:
    """Crete et al. (2007) "The blur effect: perception and estimation with a new no-reference
    perceptual blur metric", SPIE 6492. Re-blurs the frame with a 1 x ``size`` box filter in each
    direction and measures how much neighbour-difference variation that removes: a sharp frame loses
    a lot, an already blurred one little. Returns a value in [0, 1]: 0 = sharp, 1 = fully blurred.
    A flat frame (no variation at all) returns 1.0. Reported, not scored: on smooth content with few
    fine details it reads "blurred" even when edges are crisp and barely moves under heavy blur.
    """
    g = np.asarray(gray, dtype=np.float32)
    results = []
    for axis, ksize in ((0, (1, size)), (1, (size, 1))):
        # cv2 ksize is (width, height): (1, size) is a vertical box, paired with vertical differences
        # (axis 0); (size, 1) a horizontal box with horizontal differences (axis 1).
        blurred = cv2.blur(g, ksize, borderType=cv2.BORDER_REFLECT)
        d_f = np.abs(np.diff(g, axis=axis))
        d_b = np.abs(np.diff(blurred, axis=axis))
        s_f = float(d_f.sum())
        if s_f <= 1e-6:
            results.append(1.0)
            continue
        s_v = float(np.maximum(0.0, d_f - d_b).sum())
        results.append((s_f - s_v) / s_f)
    return float(max(results))


def edge_width(gray: np.ndarray, window: int = 17, top: float = 0.02, min_range: float = 10.0) -> float | None:
    """Typical width of the strongest edges, pixels at the frame's size (~1-2 sharp, 3-4 soft, > 8 blurred).

    Edge width as in Marziliano et al. (2002, "A no-reference perceptual blur metric", ICIP): the
    distance over which an edge climbs from its low to its high side. Estimated without tracing
    profiles: at an edge of height ``A`` smeared over ``w`` pixels the steepest gradient is ~``A / w``,
    so ``w ~ local range / gradient``. Local range = max - min in a ``window`` square; the median is
    taken over the ``top`` share of pixels by gradient whose local range is at least ``min_range`` grey
    levels. Unlike :func:`blur_effect` this stays informative on smooth content with few fine details.
    Returns None when fewer than 10 such pixels exist (a flat frame has no edges to judge).
    """
    g = np.asarray(gray, dtype=np.float32)
    # Sobel / 8 is the gradient in grey levels per pixel (the 3x3 Sobel kernel weights sum to 8).
    grad = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    kernel = np.ones((window, window), np.uint8)
    local_range = cv2.dilate(g, kernel) - cv2.erode(g, kernel)
    threshold = max(float(np.quantile(grad, 1.0 - top)), 1.0)
    chosen = (grad >= threshold) & (local_range >= min_range)
    if int(chosen.sum()) < 10:
        return None
    return float(np.median(local_range[chosen] / grad[chosen]))


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian (Pech-Pacheco et al. 2000, "Diatom autofocusing in brightfield
    microscopy"), grey levels squared. Higher = more fine detail; content- and size-dependent, so it is
    reported, not scored (the scored sharpness is :func:`edge_width`).
    """
    return float(cv2.Laplacian(np.asarray(gray, dtype=np.float32), cv2.CV_32F, ksize=1).var())


def noise_sigma(gray: np.ndarray, percentile: float = 10.0) -> float:
    """Standard deviation of additive noise, grey levels.

    Immerkaer (1996) "Fast noise variance estimation", CVIU 64(2):
    ``sigma = sqrt(pi/2) * mean(|I * M|) / 6`` with ``M`` the 3x3 kernel above, evaluated per block
    (16 px, or 8 px on frames under 128 px) and read at the ``percentile``-th flattest block: the
    homogeneous-block idea of Lee & Hoppel (1989, "Noise modeling and estimation of remotely-sensed
    images"), so texture and edges are not mistaken for noise when any flat area exists. A frame that
    is fine texture everywhere (sand, grass) still reads as a little noisy. Frames under 3x3 return 0.0.
    """
    g = np.asarray(gray, dtype=np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    response = np.abs(cv2.filter2D(g, cv2.CV_32F, _IMMERKAER))[1:-1, 1:-1]
    size = 16 if min(response.shape) >= 128 else 8
    rows, cols = response.shape[0] // size, response.shape[1] // size
    if rows * cols < 4:
        block_means = response.ravel()
    else:
        blocks = response[: rows * size, : cols * size].reshape(rows, size, cols, size)
        block_means = blocks.mean(axis=(1, 3)).ravel()
    return float(math.sqrt(math.pi / 2.0) * np.percentile(block_means, percentile) / 6.0)


def blockiness(gray: np.ndarray, period: int, floor: float = 0.5) -> float | None:
    """Strength of a block grid of ``period`` pixels (compression artefact), as a ratio >= ~1.

    Block-edge idea of Wang, Sheikh & Bovik (2002, "No-reference perceptual quality assessment of JPEG
    compressed images"): coding blocks leave steps at every ``period``-th column/row. The mean absolute
    neighbour difference is averaged per column phase (mod ``period``); the result is the strongest
    phase divided by the mean of the others, averaged over both directions. ~1.0 = no grid; 1.5 = clearly
    blocky. Both means are floored at ``floor`` grey levels, so a flat frame reads 1.0. Returns None
    when the frame is too small (fewer than 4 blocks) or ``period`` < 2.
    """
    g = np.asarray(gray, dtype=np.float32)
    if period < 2 or min(g.shape) < 4 * period:
        return None
    ratios = []
    for axis in (1, 0):
        profile = np.abs(np.diff(g, axis=axis)).mean(axis=1 - axis)  # one value per column (or row) gap
        usable = (len(profile) // period) * period
        phases = profile[:usable].reshape(-1, period).mean(axis=0)
        strongest = int(np.argmax(phases))
        others = np.delete(phases, strongest).mean()
        # Differences under half a grey level are invisible: flooring both keeps flat areas at ~1.
        ratios.append(float(max(phases[strongest], floor) / max(others, floor)))
    return float(np.mean(ratios))


def exposure(gray: np.ndarray, dark: float = 5.0, bright: float = 250.0) -> dict[str, float]:
    """Exposure statistics: ``luma_mean`` (0-255), ``exposure_deviation`` = |mean - 127.5| (grey levels),
    ``clipped_fraction`` (share of pixels <= ``dark`` or >= ``bright``, 0-1) and ``contrast_rms``
    (standard deviation of luma, grey levels; Peli 1990 RMS contrast).
    """
    g = np.asarray(gray, dtype=np.float32)
    mean = float(g.mean())
    return {
        "luma_mean": mean,
        "exposure_deviation": abs(mean - 127.5),
        "clipped_fraction": float(((g <= dark) | (g >= bright)).mean()),
        "contrast_rms": float(g.std()),
    }


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) "Measuring colourfulness in natural images", SPIE 5007:
    ``M = sqrt(sd_rg^2 + sd_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2)`` with ``rg = R - G`` and
    ``yb = (R + G)/2 - B``. 0 = grey; ~15 slightly, ~33 moderately, ~59 quite, > 82 extremely colourful.
    """
    f = np.asarray(rgb, dtype=np.float32)
    rg = f[..., 0] - f[..., 1]
    yb = 0.5 * (f[..., 0] + f[..., 1]) - f[..., 2]
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def frame_quality(rgb: np.ndarray, block_period: int | None) -> dict[str, float | None]:
    """All per-frame statistics of one RGB uint8 frame (H, W, 3); see the functions above for units."""
    gray = luma(rgb)
    out: dict[str, float | None] = {
        "edge_width": edge_width(gray),
        "blur_effect": blur_effect(gray),
        "laplacian_var": laplacian_variance(gray),
        "noise_sigma": noise_sigma(gray),
        "blockiness": blockiness(gray, block_period) if block_period else None,
        "colourfulness": colourfulness(rgb),
    }
    out.update(exposure(gray))
    return out
