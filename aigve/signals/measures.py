"""One entry point that turns sampled frames into the flat dict of raw measurements the signals
backend scores, with the unit of every number in ``UNITS``."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from aigve.media import SampledVideo
from aigve.signals.motion import frame_pairs, motion_measures
from aigve.signals.quality import frame_quality

logger = logging.getLogger(__name__)

CODEC_BLOCK = 8  # px: the transform block of JPEG/MPEG-2/H.264 (8x8; H.264 also uses 4x4)
QUALITY_FRAMES = 8  # image statistics are averaged over at most this many evenly spaced frames

UNITS: dict[str, str] = {
    "edge_width": "median width of the strongest edges, pixels at sampled size (Marziliano-style)",
    "blur_effect": "Crete et al. 2007 blur, 0 = sharp .. 1 = fully blurred (reported, not scored)",
    "laplacian_var": "variance of the Laplacian, grey levels^2 at sampled size (reported, not scored)",
    "noise_sigma": "noise standard deviation, grey levels (0-255) at sampled size",
    "blockiness": "block-grid strength, ratio (1 = no grid)",
    "colourfulness": "Hasler-Suesstrunk M (0 = grey, ~33 moderate, >82 extreme; reported, not scored)",
    "luma_mean": "mean luma, grey levels 0-255",
    "exposure_deviation": "|mean luma - 127.5|, grey levels",
    "clipped_fraction": "share of pixels <= 5 or >= 250, 0-1",
    "contrast_rms": "luma standard deviation, grey levels",
    "flow_pct_diag_s": "mean optical-flow magnitude, % of frame diagonal per second",
    "camera_pct_diag_s": "camera (global similarity) part of the flow, % of frame diagonal per second",
    "object_pct_diag_s": "mean flow left after removing the camera, % of frame diagonal per second",
    "object_p98_pct_diag_s": "98th percentile of that residual (fastest 2% of the frame), % of frame diagonal per second",
    "flow_px_per_pair": "mean flow, pixels at sampled size between consecutive sampled frames",
    "warp_error": "mean |frame - next frame warped back|, grey levels (luma smoothed 1 px)",
    "warp_error_max": "warp_error of the worst frame pair, grey levels",
    "flicker": "mean frame-to-frame jump of channel means (second difference), grey levels",
    "flicker_max": "largest such jump, grey levels",
    "pairs": "count of consecutive sampled frame pairs measured",
    "frames": "count of distinct sampled frames",
    "frame_width": "pixels", "frame_height": "pixels",
    "sampled_fps": "frames per second of video sampled",
}


def block_period(frame_width: int, source_width: int | None) -> int | None:
    """Codec block size as seen at the sampled width (pixels); None when resizing shrank it below 2 px."""
    if not source_width or source_width <= 0:
        return CODEC_BLOCK
    period = round(CODEC_BLOCK * frame_width / source_width)
    return period if period >= 2 else None


def _mean(rows: list[dict[str, float | None]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def measure_frames(frames: np.ndarray, indices: Sequence[int], timestamps: Sequence[float], sampled_fps: float,
                   source_width: int | None = None, *, flow_preset: str = "medium",
                   quality_frames: int = QUALITY_FRAMES) -> dict[str, float | None]:
    """Raw measurements (see ``UNITS``) of RGB uint8 ``frames`` (T, H, W, 3).

    ``indices``/``timestamps`` (seconds): the source frame index and time of each sampled frame, as in
    :class:`aigve.media.SamplingPlan`; ``source_width``: width of the original video (for the codec
    block size). Motion measurements are None when no two distinct frames exist.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) array, got shape {frames.shape}")
    if len(indices) != len(frames):
        # A plan that does not match its frames: treat the frames as consecutive samples.
        logger.warning("%d frames but %d indices; assuming consecutive frames at %.3g fps",
                       len(frames), len(indices), sampled_fps)
        indices = list(range(len(frames)))
        timestamps = [i / sampled_fps for i in indices] if sampled_fps > 0 else list(indices)
    distinct = [i for i in range(len(frames)) if i == 0 or indices[i] != indices[i - 1]]
    picks = sorted({distinct[int(round(j))] for j in np.linspace(0, len(distinct) - 1, min(quality_frames, len(distinct)))})
    period = block_period(frames.shape[2], source_width)
    rows = [frame_quality(frames[i], period) for i in picks]
    out: dict[str, float | None] = {key: _mean(rows, key) for key in rows[0]}
    out.update(motion_measures(frames, frame_pairs(indices, timestamps, sampled_fps), preset=flow_preset))
    out.update(frames=float(len(distinct)), frame_width=float(frames.shape[2]),
               frame_height=float(frames.shape[1]), sampled_fps=float(sampled_fps))
    # Results are stored as JSON: no NaN/inf, and plain floats rather than numpy scalars.
    return {k: float(v) if v is not None and math.isfinite(v) else None for k, v in out.items()}


def measure_video(video: SampledVideo, **options) -> dict[str, float | None]:
    """:func:`measure_frames` on a :class:`SampledVideo` (frames, plan, source info)."""
    return measure_frames(video.frames, video.plan.indices, video.plan.timestamps, video.plan.sampled_fps,
                          video.info.width, **options)
