"""Synthetic videos for tests: deterministic clips, encoded files, and deliberately broken files.

Everything is generated locally with numpy, OpenCV and PyAV; nothing is downloaded.

    frames = make_clip("moving", num_frames=16, size=(64, 64), seed=0)   # (T, H, W, 3) uint8 RGB
    path = write_video(tmp_path / "clip.mp4", frames, fps=8.0)
    bad = write_corrupt(tmp_path / "bad.mp4", "truncated")
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

CLIP_KINDS = ("static", "moving", "noisy", "blurred", "flicker", "camera_pan")
CORRUPT_KINDS = ("empty", "garbage", "truncated", "text", "truncated_tail")
#: codec name accepted by write_video -> PyAV encoder names to try, in order.
_ENCODERS = {
    "libx264": ("libx264",),
    "h264": ("libx264",),
    "av1": ("libaom-av1", "libsvtav1", "librav1e"),
    "libaom-av1": ("libaom-av1", "libsvtav1", "librav1e"),
    "libsvtav1": ("libsvtav1",),
    "vp9": ("libvpx-vp9",),
    "libvpx-vp9": ("libvpx-vp9",),
    "mpeg4": ("mpeg4",),
}


def make_clip(kind: str = "moving", *, num_frames: int = 16, size: tuple[int, int] = (64, 64), seed: int = 0) -> np.ndarray:
    """A deterministic synthetic clip, uint8 RGB of shape ``(num_frames, H, W, 3)`` for ``size=(H, W)``.

    Kinds: ``static`` (textured still scene), ``moving`` (a textured square crossing a still
    background, ~1/2 the width over the clip), ``noisy`` (moving + gaussian noise, sigma 40),
    ``blurred`` (moving + 9 px-sigma gaussian blur), ``flicker`` (moving with global brightness
    alternating by about +-35 %), ``camera_pan`` (the whole textured scene shifting ~1/3 width).
    """
    if kind not in CLIP_KINDS:
        raise ValueError(f"unknown clip kind {kind!r}; choose one of {', '.join(CLIP_KINDS)}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    h, w = size
    rng = np.random.default_rng(seed)
    if kind == "camera_pan":
        world = _texture(rng, h, w * 2)
        shift = np.linspace(0, w / 3, num_frames)
        return np.stack([world[:, int(round(s)): int(round(s)) + w] for s in shift])
    background = _texture(rng, h, w)
    if kind == "static":
        return np.repeat(background[None], num_frames, axis=0)
    frames = _moving(background, rng, num_frames)
    if kind == "noisy":
        noise = rng.normal(0.0, 40.0, frames.shape)
        frames = np.clip(frames.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    elif kind == "blurred":
        frames = np.stack([cv2.GaussianBlur(f, (0, 0), sigmaX=9.0) for f in frames])
    elif kind == "flicker":
        gain = 1.0 + 0.35 * np.where(np.arange(num_frames) % 2 == 0, 1.0, -1.0)
        frames = np.clip(frames.astype(np.float32) * gain[:, None, None, None], 0, 255).astype(np.uint8)
    return frames


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 8.0, *, codec: str = "libx264",
                faststart: bool = False) -> Path:
    """Encode ``frames`` (T, H, W, 3) uint8 RGB to ``path`` with PyAV (yuv420p) and return the path.

    Odd sizes are cropped by one pixel to even (yuv420p needs even sides). ``codec``: ``libx264``,
    ``av1`` / ``libaom-av1`` (whichever AV1 encoder this PyAV build has: libaom, SVT-AV1 or rav1e),
    ``vp9``, ``mpeg4``; raises ``RuntimeError`` when the local FFmpeg lacks the encoder (see
    :func:`has_encoder`). ``faststart`` moves the mp4 index to the front of the file.
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]
    encoder = _encoder(codec)
    if encoder is None:
        raise RuntimeError(f"this PyAV/FFmpeg build has no encoder for {codec!r} (tried {_ENCODERS.get(codec)})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "faststart"} if faststart else {}
    rate = Fraction(fps).limit_denominator(1001)
    if encoder == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints a banner to stderr otherwise
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(encoder, rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def has_encoder(codec: str) -> bool:
    """True when :func:`write_video` can encode ``codec`` with the local PyAV build."""
    return _encoder(codec) is not None


def write_corrupt(path: str | os.PathLike, kind: str) -> Path:
    """Write a broken "video" to ``path`` and return it. Every kind must fail :func:`aigve.video.probe`.

    ``empty``: 0 bytes. ``garbage``: 4 KiB of random bytes. ``text``: a text file. ``truncated``: a
    valid 16-frame mp4 (index at the end, the default) cut to 40 % of its bytes, so the index is
    lost. Extra kind ``truncated_tail``: a faststart mp4 cut to 55 %; it opens and its first frames
    decode, but the header lists more frames than decode (it does NOT fail probe; used to test
    reading past the decodable end).
    """
    if kind not in CORRUPT_KINDS:
        raise ValueError(f"unknown corrupt kind {kind!r}; choose one of {', '.join(CORRUPT_KINDS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "text":
        path.write_text("this is not a video\n" * 20)
    else:
        tmp = path.with_name(path.stem + ".full" + path.suffix)
        frames = make_clip("noisy", num_frames=16, size=(64, 64), seed=1)  # noise keeps every frame large
        write_video(tmp, frames, fps=8.0, faststart=kind == "truncated_tail")
        data = tmp.read_bytes()
        tmp.unlink()
        path.write_bytes(data[: int(len(data) * (0.4 if kind == "truncated" else 0.55))])
    return path


def _encoder(codec: str) -> str | None:
    import av

    for name in _ENCODERS.get(codec, (codec,)):
        try:
            av.codec.Codec(name, "w")
        except Exception:  # UnknownCodecError, or an encoder that failed to register
            continue
        return name
    return None


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth random colour texture with some edges, uint8 (h, w, 3): something codecs and metrics can track."""
    coarse = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    base = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((np.sin(xx / 3.0) + np.cos(yy / 5.0)) * 20).astype(np.int16)
    return np.clip(base.astype(np.int16) + stripes[..., None], 0, 255).astype(np.uint8)


def _moving(background: np.ndarray, rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """A textured square (1/4 of the short side) moving left to right across ``background``."""
    h, w = background.shape[:2]
    side = max(2, min(h, w) // 4)
    patch = 255 - _texture(rng, side, side)
    y0 = (h - side) // 2
    xs = np.linspace(w * 0.1, w * 0.1 + w / 2, num_frames)
    out = np.repeat(background[None], num_frames, axis=0)
    for t, x in enumerate(xs):
        x0 = min(int(round(x)), w - side)
        out[t, y0:y0 + side, x0:x0 + side] = patch
    return out
