"""Motion and temporal-stability measurements over a frame sequence: optical flow, camera/object split,
flow-warping error and brightness flicker. Pure functions of numpy arrays.

Units. Flow is estimated at the sampled frame size between consecutive *sampled* frames, then
normalised to **percent of the frame diagonal per second** (``%diag/s``): dividing by the diagonal
removes the dependence on resolution and dividing by the time between the two frames removes the
dependence on the sampling rate, so thresholds hold across sampling choices (for motion that is
roughly constant over one sampling interval). A pan across the whole frame width in 5 s is about
14 %diag/s on a square frame. Warping error and flicker are in grey levels (0-255).

Brightness. Optical flow assumes brightness constancy, so a frame that only gets brighter reads as
motion (on smooth gradients a 1-grey-level change equals a shift of pixels). Before flow, the next
frame's luma is histogram-matched to the previous one (:func:`match_histogram`), which undoes any
global monotone change (gain, offset, gamma, clipping) and leaves real displacement alone. Warping
error and flicker are measured on the frames as they are, so consistency still sees the flicker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from aigve.signals.quality import luma

WARP_SMOOTH_SIGMA = 1.0  # pixels at sampled size

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _magnitude(flow: np.ndarray) -> np.ndarray:
    """Per-pixel length of (H, W, 2) vectors (cv2.magnitude: several times faster than np.linalg.norm)."""
    return cv2.magnitude(np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1]))


def optical_flow(prev: np.ndarray, nxt: np.ndarray, preset: str = "medium") -> np.ndarray:
    """Dense optical flow (Kroeger et al. 2016, DIS, as in OpenCV) from grey uint8 ``prev`` to ``nxt``,
    both (H, W). Returns float32 (H, W, 2) in pixels: ``prev(y, x) ~ nxt(y + v, x + u)``.
    """
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return dis.calc(np.ascontiguousarray(prev), np.ascontiguousarray(nxt), None)


def match_histogram(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` (H, W) uint8 remapped by the monotone grey-level map that gives it the histogram of
    ``reference`` (any shape, uint8); returns uint8 (H, W).

    Each level of ``image`` goes to the grey level of ``reference`` at the same quantile. Mid-point
    CDFs (a level's pixels sit at the centre of their quantile range) make an image matched to itself,
    or to a copy scaled by a gain/offset, come back as the reference's levels (within one level where
    rounding merged levels). Hand-written because
    scikit-image (``exposure.match_histograms``) is not a dependency and OpenCV has no equivalent;
    two 256-bin histograms and a lookup table: ~0.2 ms for 256x256.
    """
    img, ref = np.asarray(image, np.uint8), np.asarray(reference, np.uint8)
    h_img = np.bincount(img.ravel(), minlength=256).astype(np.float64)
    h_ref = np.bincount(ref.ravel(), minlength=256).astype(np.float64)
    cdf_img = (np.cumsum(h_img) - 0.5 * h_img) / img.size
    cdf_ref = (np.cumsum(h_ref) - 0.5 * h_ref) / ref.size
    present = h_ref > 0
    lut = np.interp(cdf_img, cdf_ref[present], np.flatnonzero(present).astype(np.float64))
    return cv2.LUT(img, np.clip(lut + 0.5, 0, 255).astype(np.uint8))


def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(xs, ys) float32 coordinate grids of shape (H, W)."""
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))


def camera_flow(flow: np.ndarray, max_points: int = 2000, threshold_px: float = 1.0) -> tuple[np.ndarray, str]:
    """The part of ``flow`` (H, W, 2) explained by camera motion, and the model used.

    Camera motion is fitted as a 4-parameter similarity (pan, zoom, roll) with RANSAC
    (``cv2.estimateAffinePartial2D``) on a grid of flow vectors: the model most pixels agree with is
    taken as the camera, the rest (residual) as object motion. A large object filling most of the frame
    is therefore read as camera motion. Falls back to the median flow (pure pan), model ``"median"``,
    when the fit fails.
    """
    h, w = flow.shape[:2]
    step = max(1, int(math.sqrt(h * w / max_points)))
    xs, ys = pixel_grid(h, w)
    src = np.stack([xs[::step, ::step].ravel(), ys[::step, ::step].ravel()], axis=1)
    dst = src + flow[::step, ::step].reshape(-1, 2)
    model = None
    if len(src) >= 3:
        model, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold_px)
    if model is None:
        median = np.median(flow.reshape(-1, 2), axis=0)
        return np.broadcast_to(median, flow.shape).astype(np.float32), "median"
    cam_x = model[0, 0] * xs + model[0, 1] * ys + model[0, 2] - xs
    cam_y = model[1, 0] * xs + model[1, 1] * ys + model[1, 2] - ys
    return np.stack([cam_x, cam_y], axis=-1).astype(np.float32), "similarity"


def warp_error(prev: np.ndarray, nxt: np.ndarray, flow: np.ndarray) -> float:
    """Mean absolute difference (grey levels) between ``prev`` and ``nxt`` warped back along ``flow``.

    Pixels whose flow points outside the frame are left out. Low = the next frame is the previous one
    moved; high = content changed (flicker, morphing, appearing/disappearing things, temporal noise).
    """
    h, w = prev.shape
    xs, ys = pixel_grid(h, w)
    map_x, map_y = xs + flow[..., 0], ys + flow[..., 1]
    warped = cv2.remap(np.asarray(nxt, np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    valid = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    if not valid.any():
        return 0.0
    return float(np.abs(np.asarray(prev, np.float32) - warped)[valid].mean())


def flicker(channel_means: np.ndarray) -> tuple[float, float]:
    """Frame-to-frame brightness/colour jumps, grey levels: (mean, max) over frames.

    ``channel_means``: (T, C) mean of each colour channel per sampled frame. The jump of frame t is the
    largest channel's second difference ``|m[t] - (m[t-1] + m[t+1]) / 2|``, which is zero for a steady
    fade (a linear ramp) and large for a frame that jumps and comes back. With only two frames the
    plain difference is used. Fewer than two frames gives (0, 0).
    """
    m = np.asarray(channel_means, dtype=np.float64)
    if len(m) < 2:
        return 0.0, 0.0
    jumps = np.abs(m[1:] - m[:-1]) if len(m) == 2 else np.abs(m[1:-1] - 0.5 * (m[:-2] + m[2:]))
    per_frame = jumps.max(axis=1)
    return float(per_frame.mean()), float(per_frame.max())


def frame_pairs(indices: Sequence[int], timestamps: Sequence[float], sampled_fps: float) -> list[tuple[int, int, float]]:
    """Consecutive sampled positions (i, i+1, dt seconds) that show different source frames.

    Repeated indices (a short clip padded to an even count) are skipped. ``dt`` comes from the
    timestamps; when they do not increase it falls back to the index step at ``sampled_fps``.
    """
    pairs = []
    for i in range(len(indices) - 1):
        if indices[i + 1] == indices[i]:
            continue
        dt = float(timestamps[i + 1]) - float(timestamps[i]) if len(timestamps) == len(indices) else 0.0
        if not dt > 0:
            dt = 1.0 / sampled_fps if sampled_fps > 0 else 1.0
        pairs.append((i, i + 1, dt))
    return pairs


def motion_measures(frames: np.ndarray, pairs: Sequence[tuple[int, int, float]],
                    preset: str = "medium", *, match_brightness: bool = True) -> dict[str, float | None]:
    """Flow, camera/object split, warping error and flicker for RGB uint8 ``frames`` (T, H, W, 3).

    Returns (None when no pair of distinct frames exists): ``flow_pct_diag_s`` (mean flow magnitude),
    ``camera_pct_diag_s`` (camera component), ``object_pct_diag_s`` (mean residual after removing
    the camera) and ``object_p98_pct_diag_s`` (98th percentile of the residual: the fastest 2% of the frame, so a
    small moving object still counts),
    all in %diag/s; ``flow_px_per_pair`` (mean flow, pixels at sampled size between sampled frames);
    ``warp_error`` and ``warp_error_max`` (grey levels on luma smoothed by ``WARP_SMOOTH_SIGMA``, mean and
    worst pair); ``flicker`` and
    ``flicker_max`` (grey levels, over the frames in ``pairs``); ``pairs`` (count).
    ``match_brightness``: histogram-match each pair before flow (see the module docstring); False
    only to show what flicker does to raw flow.
    """
    frames = np.asarray(frames)
    gray = luma(frames)
    gray_u8 = np.clip(gray + 0.5, 0, 255).astype(np.uint8)
    # Warping error is read on slightly smoothed luma (sigma 1 px): codec noise on fine texture (sand,
    # foliage) and bilinear resampling otherwise dominate it; flicker, morphing and popping survive.
    smooth = np.stack([cv2.GaussianBlur(g, (0, 0), WARP_SMOOTH_SIGMA) for g in gray])
    diag = math.hypot(frames.shape[1], frames.shape[2])
    keep = sorted({i for a, b, _ in pairs for i in (a, b)})
    fl_mean, fl_max = flicker(frames[keep].reshape(len(keep), -1, 3).mean(axis=1)) if keep else (None, None)
    rows = []
    for a, b, dt in pairs:
        nxt = match_histogram(gray_u8[b], gray_u8[a]) if match_brightness else gray_u8[b]
        flow = optical_flow(gray_u8[a], nxt, preset)
        cam, _ = camera_flow(flow)
        mag, cam_mag = _magnitude(flow), _magnitude(cam)
        resid = _magnitude(flow - cam)
        scale = 100.0 / diag / dt
        rows.append((mag.mean() * scale, cam_mag.mean() * scale, resid.mean() * scale,
                     np.quantile(resid, 0.98) * scale, mag.mean(), warp_error(smooth[a], smooth[b], flow)))
    out: dict[str, float | None] = {"flicker": fl_mean, "flicker_max": fl_max, "pairs": float(len(rows))}
    names = ("flow_pct_diag_s", "camera_pct_diag_s", "object_pct_diag_s", "object_p98_pct_diag_s",
             "flow_px_per_pair", "warp_error")
    if not rows:
        out.update({n: None for n in names}, warp_error_max=None)
        return out
    table = np.asarray(rows, dtype=np.float64)
    out.update({n: float(v) for n, v in zip(names, table.mean(axis=0), strict=True)})
    out["warp_error_max"] = float(table[:, -1].max())
    return out
