"""Model inputs for Qwen2.5-VL-family judges: chat template + already-sampled frames -> one padded batch.

Kept apart from generation so other modes (teacher-forced score-only prefill, KV-cache reuse of the shared
instruction prefix) can build exactly the same inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from aigve.errors import AigveError
from aigve.prompt import build_messages

if TYPE_CHECKING:
    from transformers import BatchFeature

    from aigve.judges.profile import JudgeProfile
    from aigve.media import SampledPair, SampledVideo

logger = logging.getLogger(__name__)


def is_qwen3_vl(processor: Any) -> bool:
    """Whether ``processor`` is Qwen3-VL's (its video processor writes each temporal patch's time as text)."""
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    return isinstance(processor.video_processor, Qwen3VLVideoProcessor)


def video_metadata(video: SampledVideo, *, source_times: bool = False):
    """``VideoMetadata`` that makes the processor see the frames' true rate.

    ``source_times`` (Qwen3-VL): the source clip's fps and the sampled source frame indices instead, so the
    ``<t seconds>`` text Qwen3-VL writes before each temporal patch (the mean time of its frames,
    ``indices / fps``) is the frames' real time in the clip (``plan.timestamps``), as Qwen3-VL's own video
    loading gives; Qwen3-VL has no ``second_per_grid_ts``.

    The frames are described as their own ``T``-frame clip at ``plan.sampled_fps`` (indices ``0..T-1``), so
    the processor's ``metadata.sampled_fps`` (``len(indices) / total_num_frames * fps``) is exactly
    ``plan.sampled_fps`` and Qwen2.5-VL's ``second_per_grid_ts = temporal_patch / sampled_fps``. Without it
    transformers assumes 24 fps and silently shifts the model's time positions (field notes, pitfall 6).
    Source frame indices live in the result's sampling record instead.
    """
    from transformers.video_utils import VideoMetadata

    t, h, w = video.frames.shape[:3]
    if source_times:
        source_fps = float(video.plan.source_fps)
        indices = [int(i) for i in video.plan.indices]
        total = max(int(video.info.num_frames or 0), max(indices) + 1)
        return VideoMetadata(total_num_frames=total, fps=source_fps, frames_indices=indices, width=w, height=h,
                             duration=total / source_fps, video_backend=video.info.decoder)
    fps = float(video.plan.sampled_fps)
    return VideoMetadata(total_num_frames=t, fps=fps, frames_indices=list(range(t)), width=w, height=h,
                         duration=t / fps, video_backend=video.info.decoder)


def expected_second_per_grid(processor: Any, video: SampledVideo) -> float:
    """Seconds of video covered by one temporal patch: ``temporal_patch_size / plan.sampled_fps``."""
    return processor.video_processor.temporal_patch_size / float(video.plan.sampled_fps)


def _check_frames(video: SampledVideo) -> np.ndarray:
    frames = video.frames
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        shape = getattr(frames, "shape", None)
        dtype = getattr(frames, "dtype", None)
        raise AigveError(f"{video.path}: frames must be a uint8 array (T, H, W, 3); got shape {shape}, dtype {dtype}")
    if frames.shape[0] < 1:
        raise AigveError(f"{video.path}: no frames were sampled")
    return frames


def _video_kwargs(processor: Any, frames: Sequence[np.ndarray]) -> dict[str, Any]:
    """Processor options that keep the planned frame size: no resampling, no resizing when possible."""
    vp = processor.video_processor
    factor = vp.patch_size * vp.merge_size
    kwargs: dict[str, Any] = {"do_sample_frames": False, "cap_pixels_per_frame": False}
    sizes = [f.shape[1:3] for f in frames]
    if all(h % factor == 0 and w % factor == 0 for h, w in sizes):
        kwargs["do_resize"] = False  # the sampler already sized frames to multiples of patch*merge
    else:
        # Not planned by aigve's sampler: let smart_resize round each side to the nearest multiple, with
        # explicit caps (the library default differs from the Qwen reference and would change token counts).
        areas = [max(factor, round(h / factor) * factor) * max(factor, round(w / factor) * factor) for h, w in sizes]
        logger.warning("frame sizes %s are not multiples of %d; the processor will resize them", sizes, factor)
        kwargs["do_resize"] = True
        kwargs["size"] = {"shortest_edge": min(areas), "longest_edge": max(areas)}
    return kwargs


def _mm_token_type_ids(processor: Any, input_ids) -> Any:
    """0 text, 1 image, 2 video: M-RoPE needs it (Qwen2.5-VL silently falls back to 1-D positions without)."""
    import torch

    types = torch.zeros_like(input_ids)
    types[input_ids == processor.image_token_id] = 1
    types[input_ids == processor.video_token_id] = 2
    return types


def build_inputs(
    processor: Any,
    videos: Sequence[SampledVideo | SampledPair],
    prompts: Sequence[str],
    released_keys: bool = True,
    *,
    profile: JudgeProfile | None = None,
) -> BatchFeature:
    """Tokenised, left-padded batch for ``videos`` with their generation ``prompts``.

    Returns the processor's ``BatchFeature``: ``input_ids``/``attention_mask``/``mm_token_type_ids`` (B, L),
    ``pixel_values_videos`` (total patches, C*temporal*patch*patch), ``video_grid_thw`` (B, 3) and, for
    Qwen2.5-VL, ``second_per_grid_ts`` (B,) in seconds (Qwen3-VL instead writes each temporal patch's time in
    the text: :func:`video_metadata`). Frames go in as arrays with
    ``do_sample_frames=False`` and per-video timing metadata; ``released_keys`` picks the key spelling of
    the instruction (see :func:`aigve.prompt.build_instruction`). ``profile``: the judge profile whose message
    layout and instruction are used (:meth:`aigve.judges.profile.JudgeProfile.messages`); None = aigve's own
    messages (:func:`aigve.prompt.build_messages`). Frame choice, size and spacing are in the sampled videos.
    A :class:`~aigve.media.SampledPair` (a pairwise profile) puts its two videos in the request in order (A, B);
    the processor's per-video rows (``video_grid_thw``, ``second_per_grid_ts``) then number 2 per request.
    """
    if len(videos) != len(prompts):
        raise AigveError(f"build_inputs: got {len(videos)} videos but {len(prompts)} prompts; pass one prompt per video")
    if not videos:
        raise AigveError("build_inputs: empty batch")
    texts = [chat_text(processor, p, released_keys=released_keys, profile=profile) for p in prompts]
    from aigve.media import SampledPair

    clips = [c for v in videos for c in (v.videos if isinstance(v, SampledPair) else (v,))]
    frames = [_check_frames(v) for v in clips]
    qwen3 = is_qwen3_vl(processor)
    inputs = processor(
        text=texts, videos=frames, video_metadata=[video_metadata(v, source_times=qwen3) for v in clips],
        padding=True, padding_side="left", return_tensors="pt", **_video_kwargs(processor, frames),
    )
    if "mm_token_type_ids" not in inputs:
        inputs["mm_token_type_ids"] = _mm_token_type_ids(processor, inputs["input_ids"])
    if "second_per_grid_ts" in inputs:
        _check_second_per_grid(processor, clips, inputs)
    return inputs


def chat_text(processor: Any, prompt: str, *, released_keys: bool = True, profile: JudgeProfile | None = None) -> str:
    """The full templated text of one request (chat template, ``add_generation_prompt=True``)."""
    messages = profile.messages(prompt) if profile is not None else build_messages(prompt, released_keys=released_keys)
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _check_second_per_grid(processor: Any, videos: Sequence[SampledVideo], inputs: Any) -> None:
    """Overwrite (with a warning) if a transformers change stopped honouring the metadata's fps."""
    import torch

    want = torch.tensor([expected_second_per_grid(processor, v) for v in videos], dtype=torch.float32)
    got = torch.as_tensor(inputs["second_per_grid_ts"], dtype=torch.float32)
    if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-5):
        logger.warning("processor gave second_per_grid_ts=%s, expected %s from the sampled fps; using the latter",
                       got.tolist(), want.tolist())
        inputs["second_per_grid_ts"] = want
