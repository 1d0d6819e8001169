"""Video files in, RGB frames out. The only module in aigve that touches decoders.

* :func:`probe` reads container metadata with PyAV and decodes the first frame, so missing, empty,
  garbage, text, truncated and audio-only files fail early with a :class:`VideoDecodeError` that
  names the file and the fix. It does not decode the whole file.
* :func:`read_frames` decodes the planned indices with decord (fast random access) and falls back
  to PyAV for what decord cannot open (AV1, GIF, partially written files) or when decord is not
  installed. Both decoders give identical RGB pixels; both resize with the same OpenCV call, so the
  frames (and therefore scores) do not depend on which decoder ran.
* :func:`load_video` = probe + :func:`aigve.sampling.plan_sampling` + read.

decord readers are not thread-safe, so every call opens its own reader and closes it before returning.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from aigve.config import SamplingConfig
from aigve.errors import VideoDecodeError, console_safe
from aigve.media import SampledVideo, SamplingPlan, VideoInfo
from aigve.sampling import frame_motion, motion_candidates, plan_sampling

log = logging.getLogger(__name__)

#: Suffixes (lower case, with the dot, as ``Path.suffix`` gives them) treated as videos when scanning folders.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".gif", ".mpeg", ".mpg", ".wmv", ".flv")
DECODERS = ("auto", "decord", "pyav")
#: Codecs decord 0.6 cannot decode (its bundled FFmpeg has no AV1 decoder; GIF metadata breaks it).
_DECORD_UNSUPPORTED = frozenset({"av1", "libdav1d", "libaom-av1", "libsvtav1", "gif"})
_DECORD_CHUNK = 8  # frames per get_batch call: bounds full-resolution memory (8 x 8K RGB ~ 800 MB)
_SEEK_GAP = 300  # PyAV seeks instead of decoding through gaps longer than this many frames
_MOTION_MEMORY_BYTES = 256 << 20  # above this, motion candidates are decoded small, then the picks again
_MAX_DECODE_ERRORS = 8  # consecutive bad packets tolerated before the rest of the file counts as lost


def is_video_path(path: str | os.PathLike) -> bool:
    """True when ``path`` ends in one of :data:`VIDEO_EXTENSIONS` (case-insensitive). Does not open it."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def decord_available() -> bool:
    """True when decord can be imported (it has wheels for x86_64 Linux/Windows only)."""
    return _decord() is not None


def probe(path: str | os.PathLike) -> VideoInfo:
    """Metadata of a video without decoding it all; raises VideoDecodeError when it is not a usable video.

    Decodes only up to the first frame (proof the stream is readable), and reads (demuxes, without decoding)
    every packet to the end of the file. ``num_frames`` is the header's count, or the packets read when the
    container has no count (mkv, webm) or when fewer packets than the header lists are there (a truncated
    file: then ``header_frames`` keeps the header's claim and ``duration_s`` is that of the readable part).
    ``decoder`` is the decoder :func:`read_frames` will try first (``decord`` or ``pyav``).
    """
    p = _check_file(path)
    try:
        container = av.open(str(p))
    except av.FFmpegError as e:
        raise VideoDecodeError(p, _open_failure(p, e)) from e
    with container:
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
            raise VideoDecodeError(p, f"no video stream (streams found: {kinds}); give a file with video")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        fps = _stream_fps(stream)
        duration = _duration(container, stream)
        header = stream.frames or 0
        num_frames, first = _count_and_first_frame(p, container, stream)
    if num_frames < 1 or first is None:
        raise VideoDecodeError(p, "the video stream contains no decodable frames (empty or corrupt stream)")
    header_frames = None
    if 0 < num_frames < header:  # cut short: the readable part is what counts, the header's claim is kept
        header_frames = header
        log.warning("%s: header lists %d frames but the file holds only %d (%.0f%%); truncated?", console_safe(p),
                    header, num_frames, 100 * num_frames / header)
        duration = num_frames / fps if fps else (duration * num_frames / header if duration else None)
    elif header > 0:
        num_frames = header
    if fps is None and duration and num_frames > 1:
        log.info("%s: no frame rate in the container; sampling derives it from duration", p)
    return VideoInfo(
        path=str(p),
        num_frames=num_frames,
        fps=fps,
        duration_s=duration,
        width=first.width,
        height=first.height,
        decoder=_preferred_decoder(codec),
        codec=codec,
        size_bytes=p.stat().st_size,
        header_frames=header_frames,
    )


def read_frames(
    path: str | os.PathLike, plan: SamplingPlan, info: VideoInfo | None = None, *, decoder: str = "auto"
) -> np.ndarray:
    """Decode ``plan.indices`` as uint8 RGB of shape ``(T, plan.frame_height, plan.frame_width, 3)``.

    ``decoder``: ``auto`` (decord unless ``info``/the codec says it cannot, then PyAV; any decord
    failure also falls back to PyAV), ``decord`` or ``pyav`` (force one). Indices past the last frame
    that actually decodes (truncated tail, wrong header count) are clamped to it with a warning;
    :func:`load_video` instead re-plans over the frames that exist.
    """
    info = info or probe(path)
    result = _read(path, plan.indices, (plan.frame_height, plan.frame_width), info, decoder)
    for note in result.notes:
        log.warning("%s: %s", path, note)
    return result.frames


def load_video(
    path: str | os.PathLike, cfg: SamplingConfig | None = None, *,
    rng: np.random.Generator | int | None = None, decoder: str = "auto", info: VideoInfo | None = None,
) -> SampledVideo:
    """Probe, plan and decode one video. ``decode_s`` is the wall time of all three (seconds).

    ``info``: a :func:`probe` result for this file already in hand (batch runs probe every input
    first), which skips the second probe.

    Strategy ``motion`` decodes ``4 x`` candidate frames once (at the planned size), scores each by
    the mean absolute difference of its brightness-normalised grey neighbours, and keeps the frames
    :func:`aigve.sampling.motion_indices` picks. When fewer frames decode than the header claims,
    the plan is redone over the decodable frames and a note records it. ``info.decoder`` of the
    result is the decoder that actually ran; for ``motion``, ``extra`` holds ``motion_candidates``
    (frame indices) and ``motion_scores`` (per candidate, grey levels 0-255).
    """
    cfg = cfg or SamplingConfig()
    start = time.perf_counter()
    info = info if info is not None else probe(path)
    notes: list[str] = []
    for _attempt in range(2):
        plan, result = _plan_and_read(path, info, cfg, rng, decoder)
        if result.decodable is None or result.decodable >= info.num_frames:
            break
        notes.append(f"header lists {info.num_frames} frames but only {result.decodable} decode; re-planned over those")
        fps = plan.source_fps
        info = dataclasses.replace(info, num_frames=result.decodable, duration_s=result.decodable / fps,
                                   decoder=result.decoder, header_frames=info.header_frames or info.num_frames)
    notes.extend(result.notes)
    plan = dataclasses.replace(plan, notes=plan.notes + tuple(notes))
    info = dataclasses.replace(info, decoder=result.decoder)
    elapsed = time.perf_counter() - start
    log.info("%s: %d frames %dx%d via %s in %.3f s", path, plan.num_frames, plan.frame_width,
             plan.frame_height, result.decoder, elapsed)
    return SampledVideo(path=str(path), frames=result.frames, info=info, plan=plan, decode_s=elapsed,
                        extra=result.extra)


# ----------------------------------------------------------------------------------------------- internals


@dataclasses.dataclass
class _ReadResult:
    frames: np.ndarray  # (T, H, W, 3) uint8
    decoder: str
    notes: list[str]
    decodable: int | None  # frames that decode, when reading ran into the end early; else None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def _plan_and_read(path: Any, info: VideoInfo, cfg: SamplingConfig, rng: Any, decoder: str) -> tuple[SamplingPlan, _ReadResult]:
    plan = plan_sampling(info, cfg, rng=rng)
    size = (plan.frame_height, plan.frame_width)
    if cfg.strategy != "motion":
        return plan, _read(path, plan.indices, size, info, decoder)
    candidates = motion_candidates(info.num_frames, plan.num_frames)
    # One pass at the planned size when the candidates fit in memory; else score small frames and
    # decode the chosen ones again at full size (two passes, bounded memory).
    two_pass = len(candidates) * size[0] * size[1] * 3 > _MOTION_MEMORY_BYTES
    result = _read(path, candidates, _motion_size(size) if two_pass else size, info, decoder)
    if result.decodable is not None:  # truncated: load_video re-plans before motion matters
        return plan, result
    motion = frame_motion(_frame_diffs(result.frames))
    plan = plan_sampling(info, cfg, motion=motion, rng=rng)
    if two_pass:
        result = _read(path, plan.indices, size, info, result.decoder if decoder == "auto" else decoder)
    else:
        position = {index: k for k, index in enumerate(candidates)}
        result.frames = result.frames[[position[i] for i in plan.indices]]
    result.extra = {"motion_candidates": list(candidates), "motion_scores": [round(float(m), 3) for m in motion]}
    return plan, result


def _motion_size(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(1.0, 64.0 / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _frame_diffs(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference (0-255 grey levels) between consecutive frames at <= 64 px.

    Each grey frame has its mean removed first so global brightness flicker does not count as motion.
    """
    h, w = _motion_size(frames.shape[1:3])
    grey = np.stack([cv2.cvtColor(_resize(f, (h, w)), cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float32)
    grey -= grey.mean(axis=(1, 2), keepdims=True)
    return np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))


def _read(path: Any, indices: Sequence[int], size: tuple[int, int], info: VideoInfo, decoder: str) -> _ReadResult:
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}; choose one of {', '.join(DECODERS)}")
    p = _check_file(path)
    if not indices:
        raise ValueError("no frame indices to read")
    use_decord = decoder == "decord" or (decoder == "auto" and info.decoder == "decord")
    if use_decord:
        if _decord() is None:
            if decoder == "decord":
                raise VideoDecodeError(p, "decoder='decord' requested but decord is not installed; use 'pyav' or 'auto'")
        else:
            try:
                return _read_decord(p, indices, size)
            except Exception as e:  # decord raises DECORDError/RuntimeError for anything it cannot read
                if decoder == "decord":
                    raise VideoDecodeError(p, f"decord failed: {_first_line(e)}") from e
                log.warning("%s: decord failed (%s); falling back to PyAV", p, _first_line(e))
    return _read_pyav(p, indices, size)


def _read_decord(p: Path, indices: Sequence[int], size: tuple[int, int]) -> _ReadResult:
    decord = _decord()
    reader = decord.VideoReader(str(p), ctx=decord.cpu(0))
    try:
        total = len(reader)
        if total < 1:
            raise VideoDecodeError(p, "decord found no frames")
        wanted = sorted(set(indices))
        clamped = {i: min(i, total - 1) for i in wanted}
        decoded: dict[int, np.ndarray] = {}
        unique = sorted(set(clamped.values()))
        for k in range(0, len(unique), _DECORD_CHUNK):
            chunk = unique[k:k + _DECORD_CHUNK]
            batch = reader.get_batch(chunk).asnumpy()
            decoded.update((i, _resize(f, size)) for i, f in zip(chunk, batch, strict=True))
    finally:
        del reader
    notes = []
    if any(i != c for i, c in clamped.items()):
        notes.append(f"indices past frame {total - 1} clamped to it")
    log.info("%s: decoded %d frames with decord", p, len(decoded))
    frames = np.stack([decoded[clamped[i]] for i in indices])
    return _ReadResult(frames, "decord", notes, total if notes else None)


def _read_pyav(p: Path, indices: Sequence[int], size: tuple[int, int]) -> _ReadResult:
    """In-order decode (seeking across long gaps); frame ``k`` is the ``k``-th decoded, as with decord."""
    wanted = sorted(set(indices))
    decoded: dict[int, np.ndarray] = {}
    newest: tuple[int, Any] | None = None  # (index, av.VideoFrame) of the last frame the decoder gave
    ended_early = False
    try:
        container = av.open(str(p))
    except av.FFmpegError as e:
        raise VideoDecodeError(p, _open_failure(p, e)) from e
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = _stream_fps(stream)
        frames = _decode(container, stream, start_index=0)
        for target in wanted:
            if newest is not None and target <= newest[0]:  # a seek landed past this target: nearest frame
                decoded[target] = _to_rgb(newest[1], size)
                continue
            if newest is not None and target - newest[0] > _SEEK_GAP and fps and stream.time_base:
                frames = _seek(container, stream, target, fps)
            for newest in frames:  # noqa: B007 - newest is read after the loop
                if newest[0] >= target:
                    decoded[target] = _to_rgb(newest[1], size)
                    break
            else:
                ended_early = True
                break
        if newest is None:
            raise VideoDecodeError(p, "no frame could be decoded (corrupt or truncated stream)")
        notes = []
        if ended_early:
            notes.append(f"decoding stopped after frame {newest[0]}; later indices clamped to it")
            tail = _to_rgb(newest[1], size)
            decoded.update((i, tail) for i in wanted if i not in decoded)
    log.info("%s: decoded %d frames with PyAV", p, len(decoded))
    out = np.stack([decoded[i] for i in indices])
    return _ReadResult(out, "pyav", notes, newest[0] + 1 if ended_early else None)


def _to_rgb(frame: Any, size: tuple[int, int]) -> np.ndarray:
    return _resize(frame.to_ndarray(format="rgb24"), size)


def _decode(container: Any, stream: Any, start_index: int | None) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, frame)`` in decode order. ``start_index=None``: index from pts (after a seek).

    Bad packets are skipped; after :data:`_MAX_DECODE_ERRORS` in a row the rest counts as lost.
    """
    index = start_index
    errors = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.FFmpegError:
            errors += 1
            if errors >= _MAX_DECODE_ERRORS:
                return
            continue
        errors = 0
        for frame in frames:
            if index is None:
                index = _index_from_pts(frame, stream)
            yield index, frame
            index += 1


def _seek(container: Any, stream: Any, target: int, fps: float) -> Iterator[tuple[int, Any]]:
    """Seek to the keyframe before ``target`` and return a fresh frame iterator (indices from pts)."""
    start = stream.start_time or 0
    offset = start + int(target / fps / stream.time_base)
    container.seek(offset, backward=True, any_frame=False, stream=stream)
    return _decode(container, stream, start_index=None)


def _index_from_pts(frame: Any, stream: Any) -> int:
    fps = _stream_fps(stream)
    if frame.pts is None or not fps or not stream.time_base:
        return 0
    return max(0, round(float((frame.pts - (stream.start_time or 0)) * stream.time_base) * fps))


def _resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """RGB frame to ``size=(h, w)``: INTER_AREA when shrinking (anti-aliased), bicubic when growing."""
    h, w = size
    if frame.shape[:2] == (h, w):
        return np.ascontiguousarray(frame)
    shrinking = h * w <= frame.shape[0] * frame.shape[1]
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def entry_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a readable regular file (symlink loop, dangling link, missing, directory, FIFO or
    device, unreadable), or None when it is one. Never opens it: opening a FIFO would block."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            return "symlink loop (the link points, directly or not, back at itself); fix or remove the link"
        if p.is_symlink():
            return f"dangling symlink (its target {os.readlink(p)!r} does not exist); fix or remove the link"
        if exc.errno == errno.EACCES:
            return "permission denied; make the file and its folders readable by this user"
        return "file not found; check the path"
    import stat

    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a video file"
    if not stat.S_ISREG(st.st_mode):
        kind = "FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) \
            else "device file" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "special file"
        return f"not a regular file (a {kind}); give the video file itself"
    if not os.access(p, os.R_OK):
        return "permission denied; make the file readable by this user"
    return None


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    problem = entry_problem(p)
    if problem is not None:
        raise VideoDecodeError(p, problem)
    if p.stat().st_size == 0:
        raise VideoDecodeError(p, "file is empty (0 bytes); it was probably not fully written or downloaded")
    if not os.access(p, os.R_OK):
        raise VideoDecodeError(p, "permission denied; make the file readable by this user")
    return p


def _open_failure(p: Path, error: Exception) -> str:
    """Reason a file does not open, with a hint at the likely cause."""
    with open(p, "rb") as fh:
        head = fh.read(512)
    try:
        head.decode("utf-8")
        looks_text = all(c >= 32 or c in (9, 10, 13) for c in head)
    except UnicodeDecodeError:
        looks_text = False
    if looks_text:
        return "is a text file, not a video"
    return (f"cannot be opened as a video ({_first_line(error)}); the file is corrupt, truncated "
            "(e.g. an mp4 whose index was never written) or not a video; re-export or re-download it")


def _count_and_first_frame(p: Path, container: Any, stream: Any) -> tuple[int, Any]:
    """``(packets read to the end of the file, first decoded frame or None)``.

    Demuxes every packet (no decoding beyond the first frame): a header's frame count is only a claim, and a
    file cut short (a faststart mp4 keeps its whole index at the front) still lists every frame.
    """
    packets, first = 0, None
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # flush packet at the end of the stream
                continue
            packets += 1
            if first is None:
                try:
                    first = next(iter(packet.decode()), None)
                except av.FFmpegError:
                    pass
        if first is None:
            first = next(iter(stream.codec_context.decode(None)), None)
    except av.FFmpegError as e:
        if first is None:
            raise VideoDecodeError(p, f"stream could not be read ({_first_line(e)}); the file is corrupt or truncated") from e
    return packets, first


def _stream_fps(stream: Any) -> float | None:
    """Average frame rate, else FFmpeg's guess; None when absent or implausible (not in (0, 1000])."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            value = float(rate)
            if math.isfinite(value) and 0 < value <= 1000:
                return value
    return None


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _preferred_decoder(codec: str | None) -> str:
    if _decord() is None or (codec is not None and codec in _DECORD_UNSUPPORTED):
        return "pyav"
    return "decord"


_DECORD: Any = None


def _decord() -> Any:
    """The decord module, or None when it is not installed. Imported once, with FFmpeg logs quietened."""
    global _DECORD
    if _DECORD is None:
        try:
            import decord

            decord.logging.set_level(decord.logging.QUIET)
            _DECORD = decord
        except ImportError:
            _DECORD = False
    return _DECORD or None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
