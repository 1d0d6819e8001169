"""Pure sampling math: how many frames, which ones, and how many pixels each.

No decoder is imported here; :mod:`aigve.video` feeds these functions what a probe learned.
Conventions used throughout:

* frame indices are 0-based positions in decode order, non-decreasing;
* a frame count is always a multiple of ``temporal_patch`` (Qwen2.5-VL merges frame pairs);
* a visual token is one merged ``factor x factor`` patch (``factor`` = 28 for Qwen2.5-VL), and a clip
  of ``T`` frames at ``h x w`` costs ``ceil(T / temporal_patch) * (h / factor) * (w / factor)`` tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from aigve.config import SamplingConfig
from aigve.media import SamplingPlan, VideoInfo

#: Candidate frames decoded per output frame by the motion strategy.
MOTION_OVERSAMPLE = 4


def smart_resize(height: int, width: int, *, factor: int = 28, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Output ``(h, w)`` for a ``height x width`` frame, both multiples of ``factor``.

    Follows Qwen's ``smart_resize`` (round each side to the factor; if the area leaves
    ``[min_pixels, max_pixels]`` scale both sides by the same factor, flooring when shrinking and
    ceiling when growing), with two differences so every input gets an answer instead of an error:

    * extreme aspect ratios (Qwen raises above 200:1) clamp the short side to ``factor`` and cut the
      long side so the area stays ``<= max_pixels``: the ratio is then distorted, never the budget;
    * ``max_pixels`` is a hard cap; ``min_pixels`` is honoured whenever the factor grid allows it.
    """
    if height < 1 or width < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if max_pixels < factor * factor:
        raise ValueError(f"max_pixels={max_pixels} is below one token ({factor}x{factor} = {factor * factor})")
    if min_pixels > max_pixels:
        raise ValueError(f"min_pixels={min_pixels} must be <= max_pixels={max_pixels}")
    h_bar = max(factor, _round_to(height, factor))
    w_bar = max(factor, _round_to(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    # Clamping a side to `factor` (extreme ratio) or ceiling both sides can overshoot the cap:
    # shorten the long side first, it carries the least information per pixel.
    # Terminates: the area shrinks every pass and factor**2 <= max_pixels.
    while h_bar * w_bar > max_pixels:
        short = min(h_bar, w_bar)
        new_long = max(factor, (max_pixels // short) // factor * factor)
        h_bar, w_bar = (short, new_long) if h_bar <= w_bar else (new_long, short)
    return h_bar, w_bar


def frame_count(duration_s: float, fps_target: float, num_frames_available: int, cfg: SamplingConfig) -> int:
    """How many frames to sample: ``round(duration_s * fps_target)`` clamped to the config.

    Clamped to ``[cfg.min_frames, cfg.max_frames]``, then rounded up to a multiple of
    ``cfg.temporal_patch`` (down if that would pass ``max_frames``), then capped at
    ``num_frames_available`` rounded up to the patch: a clip never gets more samples than it has
    frames except to complete the last temporal patch (a 1-frame video gives 2, a 3-frame video 4;
    the extra index repeats a frame). ``num_frames_available <= 0`` means unknown (no cap).
    Examples with the defaults (1 fps, 4..32 frames): 2 s -> 4, 10.4 s -> 10, 10.6 s -> 12, 60 s -> 32.
    """
    if not math.isfinite(duration_s) or duration_s < 0:
        raise ValueError(f"duration_s must be a finite number >= 0, got {duration_s}")
    tp = cfg.temporal_patch
    n = min(max(round(duration_s * fps_target), cfg.min_frames), cfg.max_frames)
    n = _ceil_to(n, tp)
    if n > cfg.max_frames:
        n = max(tp, cfg.max_frames // tp * tp)
    if num_frames_available > 0:
        n = min(n, _ceil_to(num_frames_available, tp))
    return max(tp, n)


def uniform_indices(
    num_frames_total: int, n: int, *, jitter: float = 0.0, rng: np.random.Generator | int | None = None
) -> list[int]:
    """``n`` centred, evenly spaced indices into ``num_frames_total`` frames (non-decreasing).

    Sample ``i`` sits at the middle of the ``i``-th of ``n`` equal intervals:
    ``floor((i + 0.5) * num_frames_total / n)`` (16 frames, n=4 -> [2, 6, 10, 14]). When
    ``n > num_frames_total`` frames repeat (1 frame, n=2 -> [0, 0]). ``jitter`` in [0, 1) moves
    each sample by a uniform random offset of up to ``jitter / 2`` of an interval either way, so
    samples never leave their interval and order is kept. ``rng``: a Generator or seed (None: fresh).
    """
    if num_frames_total < 1 or n < 1:
        raise ValueError(f"need num_frames_total >= 1 and n >= 1, got {num_frames_total} and {n}")
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), got {jitter}")
    step = num_frames_total / n
    pos = (np.arange(n) + 0.5) * step
    if jitter > 0:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        pos = pos + (gen.random(n) - 0.5) * jitter * step
    return np.clip(np.floor(pos), 0, num_frames_total - 1).astype(int).tolist()


def motion_indices(motion: np.ndarray, n: int, *, floor: float = 0.5) -> list[int]:
    """``n`` indices into the ``len(motion)`` candidate frames, denser where motion is high.

    ``motion[i]`` >= 0 is the motion score of candidate ``i`` (for ``K + 1`` frames with ``K``
    consecutive differences, convert with :func:`frame_motion` first). The sampling density is
    ``floor * uniform + (1 - floor) * motion / sum(motion)``; sample ``i`` is placed at the
    ``(i + 0.5) / n`` quantile of that density (inverse CDF), so static stretches still get frames
    (``floor`` > 0) and ``floor = 1`` or all-zero motion reproduces :func:`uniform_indices`.
    Non-finite or negative scores count as 0.
    """
    m = np.nan_to_num(np.asarray(motion, dtype=float).ravel(), nan=0.0, posinf=0.0, neginf=0.0)
    m = np.clip(m, 0.0, None)
    k = m.size
    if k < 1 or n < 1:
        raise ValueError(f"need at least one motion score and n >= 1, got {k} scores and n={n}")
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must be in [0, 1], got {floor}")
    total = m.sum()
    density = np.full(k, 1.0 / k)
    if total > 0:
        density = floor * density + (1.0 - floor) * m / total
    cdf = np.cumsum(density)
    cdf[-1] = 1.0  # guard against rounding leaving the last quantile past the end
    quantiles = (np.arange(n) + 0.5) / n
    return np.minimum(np.searchsorted(cdf, quantiles, side="right"), k - 1).astype(int).tolist()


def frame_motion(diffs: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-frame motion for ``K + 1`` frames from ``K`` consecutive-frame differences.

    Frame ``i`` gets the mean of the differences on either side of it (ends take their one neighbour),
    so a change between frames ``i`` and ``i + 1`` pulls samples towards both.
    """
    d = np.asarray(diffs, dtype=float).ravel()
    if d.size == 0:
        return np.zeros(1)
    padded = np.concatenate([d[:1], d, d[-1:]])
    return (padded[:-1] + padded[1:]) / 2.0


def motion_candidates(num_frames_total: int, n: int) -> list[int]:
    """Candidate frame indices the motion strategy scores: ``min(total, 4 * n)`` centred uniform frames.

    :func:`plan_sampling` maps ``motion`` scores back to frames with the same rule, so scores for
    ``len(motion)`` candidates always mean ``uniform_indices(num_frames_total, len(motion))``.
    """
    return uniform_indices(num_frames_total, max(1, min(num_frames_total, MOTION_OVERSAMPLE * n)))


def visual_tokens(num_frames: int, height: int, width: int, *, factor: int = 28, temporal_patch: int = 2) -> int:
    """Merged visual tokens of ``num_frames`` frames of ``height x width`` pixels (multiples of factor)."""
    return math.ceil(num_frames / temporal_patch) * (height // factor) * (width // factor)


def plan_sampling(
    info: VideoInfo,
    cfg: SamplingConfig,
    *,
    motion: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
) -> SamplingPlan:
    """Decide frame indices, timestamps and per-frame size for one video. Pure; never decodes.

    * Frame rate: ``info.fps`` when finite and > 0; else ``num_frames / duration_s`` when both are
      known (noted); else ``cfg.assumed_fps`` (``fps_assumed=True``, noted).
    * Duration: ``info.duration_s`` when finite and > 0, else ``num_frames / source_fps``.
    * Count: :func:`frame_count`; size: :func:`smart_resize` with ``max_pixels`` lowered so that
      ``ceil(T / temporal_patch) * (h / f) * (w / f) <= cfg.max_visual_tokens``. If even
      ``min_pixels`` per frame does not fit, the count drops (not below ``temporal_patch``), and if
      that is not enough the frames go below ``min_pixels``; each step adds a note.
    * Indices: ``motion`` scores (for the candidates of :func:`motion_candidates`) are used when
      ``cfg.strategy == "motion"``; otherwise centred uniform indices with ``cfg.jitter``
      (``rng`` defaults to ``cfg.seed``, so plans reproduce; pass a Generator to vary them).
    * ``timestamps[i] = indices[i] / source_fps`` (seconds).
    * ``sampled_fps`` = frames of video time per second between samples, on the same clock as the
      timestamps: ``source_fps * T / num_frames``, capped at ``source_fps`` when frames repeat (a
      1-frame video). Qwen2.5-VL's ``second_per_grid_ts = temporal_patch / sampled_fps``.
    """
    notes: list[str] = []
    source_fps, fps_assumed = _source_fps(info, cfg, notes)
    num_frames = info.num_frames
    if num_frames < 1:
        if info.duration_s and math.isfinite(info.duration_s) and info.duration_s > 0:
            num_frames = max(1, round(info.duration_s * source_fps))
            notes.append(f"frame count unknown; estimated {num_frames} from duration x fps")
        else:
            raise ValueError(f"{info.path}: no frame count and no duration; cannot plan sampling")
    duration = info.duration_s
    if duration is None or not math.isfinite(duration) or duration <= 0:
        duration = num_frames / source_fps

    tp, factor = cfg.temporal_patch, cfg.patch_factor
    if cfg.start == "zero":
        return _plan_from_zero(info, cfg, num_frames, source_fps, fps_assumed, notes)
    n = frame_count(duration, cfg.fps, num_frames, cfg)
    n, height, width = _fit_size(info.height, info.width, n, cfg, notes)

    use_motion = motion is not None and cfg.strategy == "motion"
    if cfg.strategy == "motion" and motion is None:
        notes.append("motion strategy without motion scores; sampled uniformly")
    if use_motion:
        scores = np.asarray(motion, dtype=float).ravel()
        candidates = uniform_indices(num_frames, max(1, scores.size))
        indices = [candidates[i] for i in motion_indices(scores, n)]
    else:
        gen = rng if rng is not None else cfg.seed
        indices = uniform_indices(num_frames, n, jitter=cfg.jitter, rng=gen)
    if num_frames < n:
        notes.append(f"video has {num_frames} frame(s); {n - num_frames} index(es) repeat a frame")
    return SamplingPlan(
        indices=tuple(indices),
        timestamps=tuple(i / source_fps for i in indices),
        frame_height=height,
        frame_width=width,
        sampled_fps=cfg.fps if cfg.spacing == "declared" else source_fps * min(1.0, n / num_frames),
        source_fps=source_fps,
        fps_assumed=fps_assumed,
        strategy="motion" if use_motion else "uniform",
        visual_tokens=visual_tokens(n, height, width, factor=factor, temporal_patch=tp),
        notes=tuple(notes),
    )


def zero_start_indices(num_frames_total: int, step: float, *, cap: int, temporal_patch: int = 2,
                       even_rule: str = "repeat_last") -> tuple[list[int], float]:
    """Indices ``round(k * step)`` for k = 0, 1, ... inside ``num_frames_total`` frames, and the step used.

    ``step`` = source frames per sample (``source_fps / fps``; 8 fps at 1 fps -> 8: 16 frames give [0, 8]).
    Ties round up (``floor(x + 0.5)``), not to even. More than ``cap`` samples: the step grows to
    ``num_frames_total / cap`` so the whole clip is still covered from t = 0 (``cap`` is first rounded down to
    the patch). An odd count becomes a multiple of ``temporal_patch`` by ``even_rule``: ``repeat_last`` repeats
    the last index (qwen-vl-utils on a frame list), ``distinct`` adds the next index when the clip has it.
    """
    if num_frames_total < 1 or not (math.isfinite(step) and step > 0):
        raise ValueError(f"need num_frames_total >= 1 and step > 0, got {num_frames_total} and {step}")
    cap = max(temporal_patch, cap // temporal_patch * temporal_patch)
    count = max(1, math.ceil((num_frames_total - 0.5) / step))
    if count > cap:
        step, count = num_frames_total / cap, cap
    indices = [min(num_frames_total - 1, math.floor(k * step + 0.5)) for k in range(count)]
    while len(indices) % temporal_patch:
        nxt = math.floor(len(indices) * step + 0.5)
        indices.append(nxt if even_rule == "distinct" and nxt <= num_frames_total - 1 else indices[-1])
    return indices, step


def _plan_from_zero(info: VideoInfo, cfg: SamplingConfig, num_frames: int, source_fps: float, fps_assumed: bool,
                    notes: list[str]) -> SamplingPlan:
    """:func:`plan_sampling` for ``cfg.start == "zero"`` (one frame every ``1 / cfg.fps`` s from t = 0)."""
    tp, factor = cfg.temporal_patch, cfg.patch_factor
    step = source_fps / cfg.fps
    indices, used = zero_start_indices(num_frames, step, cap=cfg.max_frames, temporal_patch=tp,
                                       even_rule=cfg.even_rule)
    n, height, width = _fit_size(info.height, info.width, len(indices), cfg, notes)
    if n < len(indices):
        indices, used = zero_start_indices(num_frames, step, cap=n, temporal_patch=tp, even_rule=cfg.even_rule)
    if used != step:
        notes.append(f"{cfg.fps:g} fps would exceed {len(indices)} frames; sampled every {used:.4g} source frames "
                     f"({source_fps / used:.4g} fps) from t = 0")
    if len(set(indices)) < len(indices):
        notes.append(f"{len(indices) - len(set(indices))} index(es) repeat a frame to complete a temporal patch")
    return SamplingPlan(
        indices=tuple(indices), timestamps=tuple(i / source_fps for i in indices),
        frame_height=height, frame_width=width, sampled_fps=source_fps / used, source_fps=source_fps,
        fps_assumed=fps_assumed, strategy="uniform",
        visual_tokens=visual_tokens(len(indices), height, width, factor=factor, temporal_patch=tp),
        notes=tuple(notes),
    )


def _fit_size(src_h: int, src_w: int, n: int, cfg: SamplingConfig, notes: list[str]) -> tuple[int, int, int]:
    """``(n, h, w)``: a fixed size (fewer frames when over the token budget), else :func:`_fit_budget`."""
    if cfg.fixed_height is None or cfg.fixed_width is None:
        return _fit_budget(src_h, src_w, n, cfg, notes)
    tp, f = cfg.temporal_patch, cfg.patch_factor
    h, w = cfg.fixed_height, cfg.fixed_width
    fit = max(1, cfg.max_visual_tokens // ((h // f) * (w // f))) * tp
    if n > fit:
        notes.append(f"{n} frames of {h}x{w} exceed {cfg.max_visual_tokens} visual tokens; sampled {fit} frames")
        n = fit
    return n, h, w


def _source_fps(info: VideoInfo, cfg: SamplingConfig, notes: list[str]) -> tuple[float, bool]:
    """Frame rate to trust and whether it was assumed (see :func:`plan_sampling`)."""
    fps = info.fps
    if fps is not None and math.isfinite(fps) and fps > 0:
        return float(fps), False
    dur = info.duration_s
    if info.num_frames > 0 and dur is not None and math.isfinite(dur) and dur > 0:
        derived = info.num_frames / dur
        notes.append(f"no usable frame rate in the file ({fps!r}); derived {derived:.4g} fps from frames / duration")
        return derived, False
    notes.append(f"no usable frame rate in the file ({fps!r}); assumed {cfg.assumed_fps:g} fps")
    return float(cfg.assumed_fps), True


def _fit_budget(src_h: int, src_w: int, n: int, cfg: SamplingConfig, notes: list[str]) -> tuple[int, int, int]:
    """``(n, h, w)`` with ``visual_tokens(n, h, w) <= cfg.max_visual_tokens`` (see plan_sampling)."""
    tp, factor, token_px = cfg.temporal_patch, cfg.patch_factor, cfg.patch_factor ** 2
    groups = math.ceil(n / tp)
    max_px = min(cfg.max_pixels, (cfg.max_visual_tokens // groups) * token_px)
    if max_px >= cfg.min_pixels:
        h, w = smart_resize(src_h, src_w, factor=factor, min_pixels=cfg.min_pixels, max_pixels=max_px)
        if max_px < cfg.max_pixels:
            notes.append(f"frames capped at {max_px} pixels to keep {n} frames within {cfg.max_visual_tokens} visual tokens")
        return n, h, w
    h, w = smart_resize(src_h, src_w, factor=factor, min_pixels=cfg.min_pixels, max_pixels=cfg.min_pixels)
    per_frame = (h // factor) * (w // factor)
    fit_groups = cfg.max_visual_tokens // per_frame
    if fit_groups >= groups:  # min_pixels is not on the factor grid; the rounded-down size fits
        return n, h, w
    if fit_groups >= 1:
        new_n = fit_groups * tp
        notes.append(f"{n} frames at min_pixels exceed {cfg.max_visual_tokens} visual tokens; sampled {new_n} frames")
        return new_n, h, w
    max_px = cfg.max_visual_tokens * token_px
    h, w = smart_resize(src_h, src_w, factor=factor, min_pixels=min(cfg.min_pixels, max_px), max_pixels=max_px)
    notes.append(
        f"even {tp} frames at min_pixels exceed {cfg.max_visual_tokens} visual tokens; "
        f"sampled {tp} frames of {h}x{w} (below min_pixels)"
    )
    return tp, h, w


def _round_to(x: float, factor: int) -> int:
    return round(x / factor) * factor


def _ceil_to(x: int, factor: int) -> int:
    return -(-x // factor) * factor
