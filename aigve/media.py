"""Plain data records passed between the video decoder, the sampler, backends and results.

Kept free of decoder and model imports so every layer can share them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """What a probe learns about a file without decoding every frame.

    ``fps`` is None when the container carries no usable rate. ``duration_s`` is in seconds.
    ``header_frames``: None, or the frame count the header claims when fewer frames are there (a file cut
    short); then ``num_frames``/``duration_s`` describe the part that can be read.
    """

    path: str
    num_frames: int
    fps: float | None
    duration_s: float | None
    width: int
    height: int
    decoder: str
    codec: str | None = None
    size_bytes: int | None = None
    header_frames: int | None = None

    @property
    def decoded_fraction(self) -> float:
        """Share of the header's frames that are there (1.0 for a whole file)."""
        return 1.0 if not self.header_frames else round(self.num_frames / self.header_frames, 4)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SamplingPlan:
    """Which frames to take and at what size.

    ``indices``: 0-based frame indices, non-decreasing, even count (a 1-frame video repeats its frame).
    ``timestamps``: seconds, ``index / source_fps``. ``frame_height``/``frame_width``: output pixels,
    multiples of the patch factor. ``sampled_fps``: frames per second of video actually sampled
    (feeds Qwen2.5-VL's ``second_per_grid_ts = temporal_patch / sampled_fps``).
    ``visual_tokens``: merged visual tokens this plan costs.
    """

    indices: tuple[int, ...]
    timestamps: tuple[float, ...]
    frame_height: int
    frame_width: int
    sampled_fps: float
    source_fps: float
    fps_assumed: bool
    strategy: str
    visual_tokens: int
    notes: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return len(self.indices)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["indices"] = list(self.indices)
        d["timestamps"] = [round(t, 4) for t in self.timestamps]
        d["notes"] = list(self.notes)
        return d


@dataclass
class SampledVideo:
    """Decoded, resized frames ready for a backend. ``frames``: uint8 array (T, H, W, 3), RGB."""

    path: str
    frames: np.ndarray
    info: VideoInfo
    plan: SamplingPlan
    decode_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def sampling_record(self) -> dict[str, Any]:
        """The sampling record stored with every result: indices, timestamps, source fps, duration, size."""
        return {
            "strategy": self.plan.strategy,
            "frame_indices": list(self.plan.indices),
            "timestamps": [round(t, 4) for t in self.plan.timestamps],
            "num_frames": self.plan.num_frames,
            "sampled_fps": round(self.plan.sampled_fps, 6),
            "source_fps": self.plan.source_fps,
            "fps_assumed": self.plan.fps_assumed,
            "source_num_frames": self.info.num_frames,
            "duration_s": self.info.duration_s,
            "source_width": self.info.width,
            "source_height": self.info.height,
            "frame_width": self.plan.frame_width,
            "frame_height": self.plan.frame_height,
            "visual_tokens": self.plan.visual_tokens,
            "decoder": self.info.decoder,
            "notes": list(self.plan.notes),
            # a truncated file: what share of its header's frames could be decoded (the record is "partial")
            "header_num_frames": self.info.header_frames or self.info.num_frames,
            "decoded_fraction": self.info.decoded_fraction,
        }


@dataclass
class SampledPair:
    """Two sampled videos judged together by a pairwise judge (``first`` = A, shown as "Video 1"; ``second`` = B),
    each sampled under the same rules. ``path``/``decode_s``/``info``/``plan`` are A's (and the sum of both decode
    times), so a pair goes through the evaluator's batch loop as one item."""

    first: SampledVideo
    second: SampledVideo

    @property
    def path(self) -> str:
        return self.first.path

    @property
    def videos(self) -> tuple[SampledVideo, SampledVideo]:
        return self.first, self.second

    @property
    def decode_s(self) -> float:
        return self.first.decode_s + self.second.decode_s

    def sampling_record(self) -> dict[str, Any]:
        """``{"A": ..., "B": ...}``: each video's :meth:`SampledVideo.sampling_record`, with the lower decoded
        fraction at the top (a pair is only as whole as its more truncated video)."""
        a, b = self.first.sampling_record(), self.second.sampling_record()
        return {"A": a, "B": b, "decoded_fraction": min(a["decoded_fraction"], b["decoded_fraction"])}
