"""Validated configuration dataclasses. A bad value raises ConfigError naming field, value and fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from aigve.core import validate
from aigve.errors import ConfigError

SAMPLING_STRATEGIES = ("uniform", "motion")
#: Where frame selection starts: ``centred`` (middle of n equal intervals) or ``zero`` (t = 0, then every 1/fps s).
FRAME_STARTS = ("centred", "zero")
#: How an odd frame count becomes even: ``distinct`` (one more distinct frame) or ``repeat_last`` (qwen-vl-utils).
EVEN_RULES = ("distinct", "repeat_last")
#: ``sampled``: temporal spacing from the sampled frames' real timing; ``declared``: temporal_patch / fps.
SPACING_RULES = ("sampled", "declared")
#: Highest sampling rate (frames per second of video) accepted: beyond it a value is a typo, and the frame count
#: it implies overflows long before decoding starts (``fps=1e308`` used to raise OverflowError mid-run).
MAX_FPS = 1000.0


@dataclass(frozen=True)
class SamplingConfig:
    """How frames are chosen from a video and how large each frame is.

    ``fps``: target frames per second of video (the released model is used at 1 fps).
    ``min_frames``/``max_frames``: clamp on the count; the count is always even because Qwen2.5-VL
    merges frame pairs into one temporal patch. ``min_pixels``/``max_pixels``: per-frame area caps
    (pixels), set explicitly because transformers' defaults differ from the Qwen reference.
    ``max_visual_tokens``: budget on merged visual tokens for the whole clip
    (``ceil(T/2) * H/28 * W/28``); long or large videos get fewer pixels per frame instead of
    running out of memory. ``patch_factor``: side of one merged token in pixels (patch 14 x merge 2).
    ``strategy``: ``uniform`` or ``motion`` (denser frames where content changes most).
    ``jitter``: random temporal offset in [0, 1) of a sampling interval (training augmentation; 0 = off).
    ``assumed_fps``: used when a file carries no usable frame rate (the result records that it was assumed).
    ``start``/``even_rule``/``fixed_height``+``fixed_width``/``spacing``: the judge profile's frame rules
    (:mod:`aigve.judges.profile`): ``zero`` takes frame ``round(k * source_fps / fps)`` for k = 0, 1, ...
    (``min_frames`` is not applied); fixed sizes (multiples of ``patch_factor``) squash every frame to that
    size whatever its aspect ratio; ``declared`` spacing reports ``fps`` as the sampled rate.
    """

    fps: float = 1.0
    min_frames: int = 4
    max_frames: int = 32
    min_pixels: int = 128 * 28 * 28
    max_pixels: int = 768 * 28 * 28
    max_visual_tokens: int = 16384
    patch_factor: int = 28
    temporal_patch: int = 2
    strategy: str = "uniform"
    jitter: float = 0.0
    seed: int = 0
    assumed_fps: float = 24.0
    start: str = "centred"
    even_rule: str = "distinct"
    fixed_height: int | None = None
    fixed_width: int | None = None
    spacing: str = "sampled"

    def __post_init__(self) -> None:
        validate.positive("fps", self.fps, high=MAX_FPS)
        validate.positive("assumed_fps", self.assumed_fps, high=MAX_FPS)
        for name in ("min_frames", "max_frames", "min_pixels", "max_pixels", "max_visual_tokens", "patch_factor",
                     "temporal_patch"):
            validate.positive_int(name, getattr(self, name))
        validate.non_negative_int("seed", self.seed)
        if self.min_frames > self.max_frames:
            raise ConfigError("min_frames", self.min_frames, f"must be <= max_frames ({self.max_frames})")
        if self.max_frames < self.temporal_patch:
            raise ConfigError("max_frames", self.max_frames, f"must be >= temporal_patch ({self.temporal_patch})")
        if self.min_pixels > self.max_pixels:
            raise ConfigError("min_pixels", self.min_pixels, f"must be <= max_pixels ({self.max_pixels})")
        if self.min_pixels < self.patch_factor ** 2:
            raise ConfigError("min_pixels", self.min_pixels,
                              f"must be >= patch_factor**2 ({self.patch_factor ** 2}) for one token")
        if self.strategy not in SAMPLING_STRATEGIES:
            raise ConfigError("strategy", self.strategy, f"choose one of {', '.join(SAMPLING_STRATEGIES)}")
        validate.fraction("jitter", self.jitter, open_high=True)  # a fraction of the sampling interval
        from aigve.core.validate import choice, optional, positive_int

        choice("start", self.start, FRAME_STARTS)
        choice("even_rule", self.even_rule, EVEN_RULES)
        choice("spacing", self.spacing, SPACING_RULES)
        for name in ("fixed_height", "fixed_width"):
            value = optional(positive_int, name, getattr(self, name))
            if value is not None and value % self.patch_factor:
                raise ConfigError(name, value, f"must be a multiple of patch_factor ({self.patch_factor})")
        if (self.fixed_height is None) != (self.fixed_width is None):
            raise ConfigError("fixed_height", self.fixed_height, "set fixed_height and fixed_width together")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SamplingConfig:
        return from_dict(cls, data or {})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding options. Greedy by default so scores reproduce run to run.

    ``force_new_tokens``: when set, generation runs exactly this many tokens (min = max), used by
    benchmarks so random-weight models generate equal lengths on every path.
    ``repetition_penalty`` (1.0 = off) and ``top_k`` (0 = off) are explicit so that every backend (HF, vLLM
    in process, a vLLM server) is sent the same decoding, never "whatever the checkpoint or server defaults to".
    """

    max_new_tokens: int = 1536
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    force_new_tokens: int | None = None
    min_new_tokens: int | None = None
    repetition_penalty: float = 1.0
    top_k: int = 0

    def __post_init__(self) -> None:
        validate.positive_int("max_new_tokens", self.max_new_tokens)
        validate.boolean("do_sample", self.do_sample)
        validate.positive("temperature", self.temperature)
        validate.positive("repetition_penalty", self.repetition_penalty)
        validate.fraction("top_p", self.top_p, open_low=True)
        validate.non_negative_int("top_k", self.top_k)  # 0 = off
        for name in ("force_new_tokens", "min_new_tokens"):
            validate.optional(validate.positive_int, name, getattr(self, name))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationConfig:
        return from_dict(cls, data or {})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys raise ConfigError listing the known ones."""
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(key, data[key], f"unknown field of {cls.__name__}; {hint}known: {', '.join(sorted(known))}")
    return cls(**data)
