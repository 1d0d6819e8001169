"""Write frames to an H.264 mp4 with PyAV (libx264, yuv420p: plays everywhere and decodes with decord/PyAV)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np


def to_uint8_frames(frames: Any) -> np.ndarray:
    """Normalise generator output to uint8 (T, H, W, 3) RGB.

    Accepts a list of PIL images, a (T, H, W, 3) / (T, 3, H, W) array or tensor in [0, 1] (float) or
    [0, 255] (uint8), or a batch of one video (1, T, ...), as diffusers pipelines return.
    """
    if isinstance(frames, (list, tuple)) and len(frames) == 1 and isinstance(frames[0], (list, tuple)):
        frames = frames[0]  # a batch of one video given as a list of PIL lists
    if isinstance(frames, (list, tuple)) and frames and hasattr(frames[0], "convert"):
        return np.stack([np.asarray(f.convert("RGB")) for f in frames])
    if hasattr(frames, "detach"):
        frames = frames.detach().float().cpu().numpy()
    arr = np.asarray(frames)
    if arr.ndim == 5:
        if arr.shape[0] != 1:
            raise ValueError(f"expected one video, got a batch of {arr.shape[0]}")
        arr = arr[0]
    if arr.ndim != 4:
        raise ValueError(f"expected frames shaped (T, H, W, 3), got {arr.shape}")
    if arr.shape[-1] not in (1, 3) and arr.shape[1] in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return arr


def write_mp4(path: str | Path, frames: Iterable[np.ndarray] | np.ndarray, fps: float, crf: int = 18) -> Path:
    """Encode uint8 RGB frames (H, W, 3) at ``fps`` frames per second; odd sizes are cropped to even
    (yuv420p needs even sides). Writes to a temporary name first so a crash never leaves a half file."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            frame = np.ascontiguousarray(frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2, :3])
            if count == 0:
                stream.height, stream.width = frame.shape[:2]
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            count += 1
        for packet in stream.encode():
            container.mux(packet)
    if count == 0:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"{path}: no frames to write")
    tmp.replace(path)
    return path
