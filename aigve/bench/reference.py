"""A re-creation of the released AIGVE-MACS usage, as the baseline every aigve path is measured against.

The released example scores one video at a time like this:

1. **decode**: OpenCV reads the clip and keeps frames at 2 fps, at most 16 (``decode_frames``); each kept
   frame is written to disk as a PNG file.
2. **preprocess**: the chat message lists those PNG paths as the video (``resized_height=480``,
   ``resized_width=854``); ``qwen_vl_utils.process_vision_info`` opens every PNG again, resizes it, and
   stacks the frames; the processor tokenises the chat template and patches the frames.
3. **model**: ``model.generate(**inputs, max_new_tokens=1500)``, batch size 1, with the checkpoint's own
   generation config.
4. **parse**: the released example calls ``eval`` on the text; here :func:`aigve.parsing.parse_response`
   reads it instead (never ``eval`` model output), so the parse stage costs the same on every path.

Deliberate differences, so that the comparison measures the pipeline rather than the prompt: the
instruction text is aigve's (:func:`aigve.prompt.build_instruction`, the released key spellings) rather
than the example's own wording. qwen-vl-utils returns ``fps`` as a one-element list, which transformers
>= 5 rejects; the single value is passed instead (and, as qwen-vl-utils does for frame lists, it is its
default 2.0 whatever fps the message states; see the field notes). ``force_new_tokens`` (benchmarks only)
sets ``min_new_tokens = max_new_tokens`` so random-weight models generate equal lengths on every path.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aigve.errors import VideoDecodeError

log = logging.getLogger(__name__)

#: Frame rate and cap of the released example's OpenCV frame extraction.
REFERENCE_FPS = 2.0
REFERENCE_MAX_FRAMES = 16
#: Frame size the released example asks qwen-vl-utils for (height, width; rounded to multiples of 28).
REFERENCE_SIZE = (480, 854)
REFERENCE_MAX_NEW_TOKENS = 1500


@dataclass
class ReferenceOutput:
    """One video through the reference pipeline. ``timings`` in seconds: decode_s, preprocess_s, model_s, parse_s."""

    text: str
    scores: dict[str, int | None]
    generated_tokens: int
    visual_tokens: int
    prompt_tokens: int
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def reference_unavailable_reason() -> str | None:
    """Why the reference path cannot run here (qwen-vl-utils missing), or None."""
    import importlib.util

    if importlib.util.find_spec("qwen_vl_utils") is None:
        return "qwen-vl-utils is not installed (pip install 'aigve-macs[bench]')"
    return None


def decode_frames(path: str | Path, fps: float = REFERENCE_FPS, max_frames: int = REFERENCE_MAX_FRAMES) -> list[np.ndarray]:
    """Frames (BGR uint8 arrays, as OpenCV returns them) every ``round(source_fps / fps)``-th frame, at most ``max_frames``.

    Reads the file sequentially with ``cv2.VideoCapture`` (every frame is decoded; the others are dropped).
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoDecodeError(path, "OpenCV cannot open this file; check that it exists and is a video")
    try:
        source_fps = cap.get(cv2.CAP_PROP_FPS) or 24.0
        step = max(1, round(source_fps / fps))
        frames: list[np.ndarray] = []
        index = 0
        while len(frames) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                frames.append(frame)
            index += 1
    finally:
        cap.release()
    if not frames:
        raise VideoDecodeError(path, "OpenCV decoded no frames")
    return frames


def write_pngs(frames: list[np.ndarray], folder: Path) -> list[str]:
    """Write frames as ``frame_0000.png``, ... in ``folder``; return the paths (what the released example feeds)."""
    import cv2

    paths = []
    for i, frame in enumerate(frames):
        p = folder / f"frame_{i:04d}.png"
        if not cv2.imwrite(str(p), frame):
            raise OSError(f"{p}: OpenCV could not write the PNG; check free disk space")
        paths.append(str(p))
    return paths


class ReferencePipeline:
    """The released single-video usage around an already-loaded Qwen2.5-VL ``model``.

    ``model_dir``: checkpoint folder (the processor is loaded from it, ``use_fast=True`` as released).
    ``model``: the loaded model, shared with the aigve paths so every path runs the same weights
    (loaded from ``model_dir`` when None). ``device``: where inputs go.
    """

    def __init__(self, model_dir: str | Path, model: Any = None, *, device: str = "cpu", dtype: Any = None,
                 max_new_tokens: int = REFERENCE_MAX_NEW_TOKENS, force_new_tokens: int | None = None,
                 released_keys: bool = True):
        from transformers import AutoProcessor

        self.model_dir = str(model_dir)
        self.processor = AutoProcessor.from_pretrained(self.model_dir, use_fast=True, local_files_only=True)
        if model is None:
            from transformers import Qwen2_5_VLForConditionalGeneration

            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(self.model_dir, dtype=dtype or "auto",
                                                                       local_files_only=True).to(device).eval()
        self.model, self.device = model, device
        self.released_keys = released_keys
        self.generate_kwargs: dict[str, Any] = {"max_new_tokens": force_new_tokens or max_new_tokens}
        if force_new_tokens:
            self.generate_kwargs["min_new_tokens"] = force_new_tokens

    def messages(self, frame_paths: list[str], prompt: str) -> list[dict]:
        from aigve.prompt import build_instruction

        video = {"type": "video", "video": frame_paths, "resized_height": REFERENCE_SIZE[0],
                 "resized_width": REFERENCE_SIZE[1], "fps": 1}
        return [{"role": "user", "content": [video, {"type": "text",
                                                     "text": build_instruction(prompt, released_keys=self.released_keys)}]}]

    def run(self, video: str | Path, prompt: str) -> ReferenceOutput:
        """Score one video the released way; decode and parse failures give an output with ``error`` set."""
        import torch
        from qwen_vl_utils import process_vision_info

        from aigve.parsing import parse_response

        timings: dict[str, float] = {}
        tmp = Path(tempfile.mkdtemp(prefix="aigve-ref-"))
        try:
            start = time.perf_counter()
            paths = write_pngs(decode_frames(video), tmp)
            timings["decode_s"] = time.perf_counter() - start

            start = time.perf_counter()
            messages = self.messages(paths, prompt)
            text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            images, videos, video_kwargs = process_vision_info(messages, return_video_kwargs=True)
            fps = video_kwargs.get("fps")
            if isinstance(fps, list):  # transformers >= 5 rejects the list qwen-vl-utils returns
                video_kwargs["fps"] = fps[0]
            inputs = self.processor(text=[text], images=images, videos=videos, padding=True, return_tensors="pt",
                                    **video_kwargs).to(self.device)
            timings["preprocess_s"] = time.perf_counter() - start

            start = time.perf_counter()
            with torch.inference_mode():
                out = self.model.generate(**inputs, **self.generate_kwargs)
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
            timings["model_s"] = time.perf_counter() - start
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        new_ids = out[0, inputs["input_ids"].shape[1]:]
        answer = self.processor.batch_decode([new_ids], skip_special_tokens=True)[0]
        start = time.perf_counter()
        error = None
        try:
            scores = dict(parse_response(answer).scores)
        except Exception as exc:  # noqa: BLE001 - the reference records any parse failure, as a run would
            scores, error = {}, f"{type(exc).__name__}: {exc}"
        timings["parse_s"] = time.perf_counter() - start
        grid = inputs["video_grid_thw"][0].tolist()
        merge = self.processor.video_processor.merge_size
        return ReferenceOutput(text=answer, scores=scores, generated_tokens=int(new_ids.numel()),
                               visual_tokens=int(np.prod(grid)) // merge**2,
                               prompt_tokens=int(inputs["input_ids"].shape[1]), timings=timings, error=error)
