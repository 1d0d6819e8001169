"""The built-in sanity checks: each a small transform of one clip into a variant, and what must happen to the scores.

Pixel variants decode every frame with :mod:`aigve.video` (the project's only decoder) and are written with
the project's H.264 writer (:func:`aigve.video_writer.write_mp4`) at a near-lossless CRF, so a
variant differs from its source by the transform, not by the re-encode. Files are named
``<clip id>-<source fingerprint>.mp4`` inside the check's folder and reused when already there.

Every random choice (noise pixels, the shuffle order, the swapped-in prompt) is seeded from the clip id, so a
rerun makes the same variants.
"""

from __future__ import annotations

import logging
import re
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from aigve.errors import InputError
from aigve.sanity.checks import Clip, Expectation, SanityCheck, Variant

log = logging.getLogger(__name__)

#: x264 constant rate factor for variants (18 is "visually lossless"; lower keeps the transform's pixels
#: closer still, at the price of larger files: uniform noise at 512x512x16 is ~10 MB).
VARIANT_CRF = 12
#: Refuse to hold more decoded pixels than this for one clip (bytes of uint8 RGB): transforms work on the
#: whole clip in memory. 2 GiB = ~2 minutes of 1080p at 30 fps.
MAX_DECODED_BYTES = 2 << 30
JPEG_QUALITY = 5
BLUR_FACTOR = 4
#: Word overlap (Jaccard, content words) above which another clip's prompt is too alike to count as "another
#: prompt" (e.g. one scene in several styles); then an unrelated prompt from this list is swapped in instead.
SWAP_MAX_OVERLAP = 0.5
UNRELATED_PROMPTS = (
    "an astronaut riding a horse across the surface of the moon",
    "a chef chopping vegetables in a busy restaurant kitchen",
    "two cats playing chess on a wooden table in a library",
    "a red sports car drifting around a corner on a snowy mountain road",
    "a hot air balloon rising over a desert canyon at sunrise",
    "a child building a sandcastle while a dog digs beside her",
)
_STOPWORDS = frozenset("a an the of in on at to and or with by for from is are its it this that as into over".split())


def clip_seed(clip: Clip, salt: str) -> int:
    """A stable 32-bit seed from the clip id and a per-check salt (the same on every run and machine)."""
    return zlib.crc32(f"{salt}:{clip.id}".encode())


def variant_path(clip: Clip, folder: Path, suffix: str = ".mp4") -> Path:
    """``folder/<safe id>-<fingerprint><suffix>``: unique per source version, stable across reruns."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", clip.id).strip("._") or "clip"
    return folder / f"{safe[:80]}-{clip.fingerprint}{suffix}"


def decode_all(path: str) -> tuple[np.ndarray, float]:
    """Every frame of ``path`` at its own size, uint8 RGB ``(T, H, W, 3)``, and its frame rate (fps; the
    duration's rate, or 24 when the container gives neither)."""
    from aigve.media import SamplingPlan
    from aigve.video import probe, read_frames

    info = probe(path)
    need = info.num_frames * info.width * info.height * 3
    if need > MAX_DECODED_BYTES:
        raise InputError(path, f"too large for sanity variants ({info.num_frames} frames of {info.width}x{info.height}, "
                               f"{need / 2**30:.1f} GiB decoded; limit {MAX_DECODED_BYTES / 2**30:.0f} GiB); trim or "
                               f"downscale the clip first")
    fps = info.fps or (info.num_frames / info.duration_s if info.duration_s else 24.0)
    n = info.num_frames
    plan = SamplingPlan(indices=tuple(range(n)), timestamps=tuple(i / fps for i in range(n)),
                        frame_height=info.height, frame_width=info.width, sampled_fps=fps, source_fps=fps,
                        fps_assumed=info.fps is None, strategy="all", visual_tokens=0)
    return read_frames(path, plan, info), float(fps)


def write_clip(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Encode ``frames`` with the project's writer (atomic: written under a temporary name, then renamed)."""
    from aigve.video_writer import write_mp4

    return write_mp4(path, frames, fps, crf=VARIANT_CRF)


FrameFn = Callable[[np.ndarray, float, np.random.Generator], tuple[np.ndarray, float]]


def frame_transform(salt: str, fn: FrameFn) -> Callable[[Clip, Path], Variant]:
    """A variant maker from a pure frame function ``fn(frames (T,H,W,3) uint8, fps, rng) -> (frames, fps)``:
    decode the clip, transform, write ``variant_path`` (reused when it exists); the prompt is kept."""

    def make(clip: Clip, folder: Path) -> Variant:
        out = variant_path(clip, folder)
        if not out.is_file():
            frames, fps = decode_all(clip.video)
            new, new_fps = fn(frames, fps, np.random.default_rng(clip_seed(clip, salt)))
            write_clip(out, np.ascontiguousarray(new), new_fps)
        return Variant(str(out), clip.prompt)

    return make


# ------------------------------------------------------------------------------------ pure frame functions
# Each takes (frames, fps, rng) and returns (frames, fps); shapes (T, H, W, 3) uint8 RGB.

def frozen(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The first frame held for the whole duration (same count and rate)."""
    return np.repeat(frames[:1], len(frames), axis=0), fps


def reversed_(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Time reversed: frame i is the source's frame n-1-i."""
    return frames[::-1], fps


def shuffle_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation of ``range(n)`` that is not the identity (for n >= 2)."""
    order = rng.permutation(n)
    if n >= 2 and np.array_equal(order, np.arange(n)):
        order = np.roll(order, 1)
    return order


def shuffled(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Frames in a random (seeded) order."""
    return frames[shuffle_order(len(frames), rng)], fps


def black(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    return np.zeros_like(frames), fps


def noise(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Uniform noise in every pixel and channel, 0-255 (the content is gone)."""
    return rng.integers(0, 256, frames.shape, dtype=np.uint8), fps


def blur(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Down-scaled by :data:`BLUR_FACTOR` (area averaging), then up-scaled back (bilinear): the detail is gone."""
    h, w = frames.shape[1:3]
    small = (max(1, w // BLUR_FACTOR), max(1, h // BLUR_FACTOR))
    return np.stack([cv2.resize(cv2.resize(f, small, interpolation=cv2.INTER_AREA), (w, h),
                                interpolation=cv2.INTER_LINEAR) for f in frames]), fps


def jpeg(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Each frame through JPEG at quality :data:`JPEG_QUALITY` (8x8 blocks, banding, colour bleeding)."""
    out = []
    for f in frames:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError("OpenCV could not JPEG-encode a frame")
        out.append(cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    return np.stack(out), fps


def fps_half(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Every other frame at half the rate: same duration and content, ceil(T/2) frames."""
    return frames[::2], fps / 2


def fps_double(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Each frame shown twice at twice the rate: same duration and content, 2T frames."""
    return np.repeat(frames, 2, axis=0), fps * 2


def half_resolution(frames: np.ndarray, fps: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Half the width and height (area averaging; sides kept even, at least 16 px)."""
    h, w = frames.shape[1:3]
    size = (max(16, w // 4 * 2), max(16, h // 4 * 2))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]), fps


# ------------------------------------------------------------------------------------ file and prompt checks

def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS}


def word_overlap(a: str, b: str) -> float:
    """Jaccard overlap of the content words of two prompts, 0-1 (1 for two empty prompts)."""
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa | wb else 1.0


def swapped_prompt(clip: Clip) -> tuple[str, str]:
    """(prompt, note): the other clip's prompt least like this one (ties: the next clip after this one, cyclic;
    a deterministic derangement when the prompts differ enough), or an unrelated prompt when every other
    prompt overlaps more than :data:`SWAP_MAX_OVERLAP` (or there is no other clip)."""
    n = len(clip.prompts)
    order = [(clip.index + k) % n for k in range(1, n + 1)] if n else []
    best, best_overlap = None, 1.0
    for i in order:
        other = clip.prompts[i]
        if i == clip.index or other.strip() == clip.prompt.strip():
            continue
        overlap = word_overlap(clip.prompt, other)
        if best is None or overlap < best_overlap:
            best, best_overlap = other, overlap
    if best is not None and best_overlap <= SWAP_MAX_OVERLAP:
        return best, f"another clip's prompt (word overlap {best_overlap:.2f})"
    unrelated = UNRELATED_PROMPTS[clip_seed(clip, "prompt") % len(UNRELATED_PROMPTS)]
    why = (f"the other prompts overlap this one by {best_overlap:.2f} or more" if best is not None
           else "no other clip has a different prompt")
    return unrelated, f"an unrelated prompt ({why})"


def _prompt_swap(clip: Clip, folder: Path) -> Variant:
    prompt, note = swapped_prompt(clip)
    return Variant(clip.video, prompt, note)


def _duplicate(clip: Clip, folder: Path) -> Variant:
    out = variant_path(clip, folder, Path(clip.video).suffix or ".mp4")
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.partial")
        shutil.copyfile(clip.video, tmp)  # a byte copy, not a link: a judge may not resolve links away
        tmp.replace(out)
    return Variant(str(out), clip.prompt)


def _rerun(clip: Clip, folder: Path) -> Variant:
    return Variant(clip.video, clip.prompt)


_TECH = ("technical_quality",)
PROMPT_SWAP = SanityCheck("prompt_swap", "the clip scored with another clip's prompt (or an unrelated one)", _prompt_swap,
                          Expectation("drop", ("element_presence", "action_presence")), group="prompt")
FROZEN = SanityCheck("frozen", "the first frame held for the whole duration", frame_transform("frozen", frozen),
                     Expectation("drop", ("dynamic",)), group="motion")
REVERSED = SanityCheck("reversed", "frames in reverse order", frame_transform("reversed", reversed_),
                       Expectation("not_rise", ("consistency", "physics", "action_quality")), group="motion")
SHUFFLED = SanityCheck("shuffled", "frames in a random order", frame_transform("shuffled", shuffled),
                       Expectation("not_rise", ("consistency", "physics", "action_quality")), group="motion")
BLACK = SanityCheck("black", "every frame black", frame_transform("black", black), Expectation("drop", _TECH),
                    group="quality")
NOISE = SanityCheck("noise", "every frame uniform random noise", frame_transform("noise", noise),
                    Expectation("drop", _TECH), group="quality")
BLUR = SanityCheck("blur", f"{BLUR_FACTOR}x down-scaled, then up-scaled back", frame_transform("blur", blur),
                   Expectation("drop", _TECH), group="quality")
JPEG = SanityCheck("jpeg", f"every frame JPEG-compressed at quality {JPEG_QUALITY}", frame_transform("jpeg", jpeg),
                   Expectation("drop", _TECH), group="quality")
DUPLICATE = SanityCheck("duplicate", "a byte copy of the file under another name", _duplicate,
                        Expectation("equal"), group="determinism")
RERUN = SanityCheck("rerun", "the same file and prompt scored a second time", _rerun, Expectation("equal"),
                    group="determinism")
FPS_HALF = SanityCheck("fps_half", "every other frame at half the frame rate (same duration)",
                       frame_transform("fps_half", fps_half), Expectation("band", band=1.0), group="invariance")
FPS_DOUBLE = SanityCheck("fps_double", "each frame twice at double the frame rate (same duration)",
                         frame_transform("fps_double", fps_double), Expectation("band", band=1.0), group="invariance")
RESOLUTION = SanityCheck("resolution", "half the width and height", frame_transform("resolution", half_resolution),
                         Expectation("band", band=1.0), group="invariance")
