"""The released AIGVE-MACS usage, as the model card runs it: the baseline every aigve path is measured against.

``xiaoliux/AIGVE-MACS``'s card scores one video at a time like this (``../shared/reference/`` in the project
holds that usage as data, ``aigve_macs_release.json``):

1. **decode**: one frame per second from t = 0 (source frame ``round(k * source_fps)``, k = 0, 1, ...; the card
   declares ``fps`` 1 and does not show its extraction code, this is its natural reading), read with OpenCV
   and written to disk as PNG files.
2. **preprocess**: one user turn, no explicit system turn: ``{"type": "video", "video": [frame paths],
   "resized_height": 480, "resized_width": 854, "fps": 1}`` then the card's instruction (byte for byte,
   ``aigve/judges/data/aigve_macs_instruction.txt``, ``{prompt}`` replaced by the prompt);
   ``qwen_vl_utils.process_vision_info`` opens every file, resizes it to ``smart_resize(480, 854)`` =
   476 x 840 (aspect ratio not kept) and repeats the last frame when the count is odd; the processor
   tokenises the chat template and patches the frames.
3. **spacing**: ``second_per_grid_ts`` = 2 / fps = **2.0**, as the processor computed it in the release era
   (transformers 4.5x). It is set explicitly: transformers >= 5 ignores a float ``fps`` for a frame list and
   assumes 24 fps (0.0833), and qwen-vl-utils 0.0.14 returns 2.0 fps for frame lists whatever the message says.
4. **model**: ``model.generate(**inputs, max_new_tokens=1500)``, batch size 1, with the checkpoint's own
   generation config.
5. **parse**: the card calls ``eval`` on the text; here :func:`aigve.parsing.parse_response` reads it
   instead (never ``eval`` model output), so the parse stage costs the same on every path.

``force_new_tokens`` (benchmarks only) sets ``min_new_tokens = max_new_tokens`` so random-weight models
generate equal lengths on every path.
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

#: The card's frame rate: one frame per second from t = 0, no cap.
REFERENCE_FPS = 1.0
#: Frame size the card asks qwen-vl-utils for (height, width; smart_resize makes it 476 x 840).
REFERENCE_SIZE = (480, 854)
REFERENCE_MAX_NEW_TOKENS = 1500
#: Seconds per temporal patch as released: temporal_patch_size 2 / fps 1.
REFERENCE_SECOND_PER_GRID_TS = 2.0
#: The card's instruction, byte for byte, with ``{prompt}`` where the generation prompt goes.
INSTRUCTION_FILE = Path(__file__).resolve().parent.parent / "judges" / "data" / "aigve_macs_instruction.txt"
#: One line for reports: what the reference path is.
REFERENCE_DESCRIPTION = ("released AIGVE-MACS usage as its card runs it: 1 fps from t=0, frames as PNG files, "
                         "qwen-vl-utils 476x840 (last frame repeated when odd), card instruction, "
                         "second_per_grid_ts 2.0, batch 1 generate")


def reference_instruction(prompt: str) -> str:
    """The card's instruction with ``prompt`` substituted verbatim (str.replace: the prompt may hold braces)."""
    return INSTRUCTION_FILE.read_text(encoding="utf-8").replace("{prompt}", prompt)


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


def decode_frames(path: str | Path, fps: float = REFERENCE_FPS) -> tuple[list[np.ndarray], list[int]]:
    """Frames (BGR uint8 arrays, as OpenCV returns them) at ``fps`` from t = 0, and their source indices.

    Frame k is source frame ``round(k * source_fps / fps)``; the file is read sequentially with
    ``cv2.VideoCapture`` (every frame is decoded, the others dropped) until it ends.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoDecodeError(path, "OpenCV cannot open this file; check that it exists and is a video")
    frames: list[np.ndarray] = []
    indices: list[int] = []
    try:
        source_fps = cap.get(cv2.CAP_PROP_FPS) or 24.0
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index == round(len(frames) * source_fps / fps):
                frames.append(frame)
                indices.append(index)
            index += 1
    finally:
        cap.release()
    if not frames:
        raise VideoDecodeError(path, "OpenCV decoded no frames")
    return frames, indices


def write_pngs(frames: list[np.ndarray], folder: Path) -> list[str]:
    """Write frames as ``frame_0000.png``, ... in ``folder``; return the paths (what the card feeds)."""
    import cv2

    paths = []
    for i, frame in enumerate(frames):
        p = folder / f"frame_{i:04d}.png"
        if not cv2.imwrite(str(p), frame):
            raise OSError(f"{p}: OpenCV could not write the PNG; check free disk space")
        paths.append(str(p))
    return paths


@dataclass
class ReferenceInputs:
    """What the card's pipeline gives the model for one video: the processor output (``inputs``, a
    BatchFeature), the chat text, the instruction, and the source frame indices that were kept."""

    inputs: Any
    text: str
    instruction: str
    frame_indices: list[int]


class ReferencePipeline:
    """The card's single-video usage around a Qwen2.5-VL ``model``.

    ``model_dir``: checkpoint folder (the processor is loaded from it, ``use_fast=True`` as released, unless
    ``processor`` is given). ``model``: the loaded model, shared with the aigve paths so every path runs the
    same weights (loaded from ``model_dir`` on first use when None). ``device``: where inputs go.
    """

    def __init__(self, model_dir: str | Path, model: Any = None, *, device: str = "cpu", dtype: Any = None,
                 max_new_tokens: int = REFERENCE_MAX_NEW_TOKENS, force_new_tokens: int | None = None,
                 processor: Any = None):
        from transformers import AutoProcessor

        self.model_dir = str(model_dir)
        self.processor = processor if processor is not None else \
            AutoProcessor.from_pretrained(self.model_dir, use_fast=True, local_files_only=True)
        self._model, self.device, self.dtype = model, device, dtype
        self.generate_kwargs: dict[str, Any] = {"max_new_tokens": force_new_tokens or max_new_tokens}
        if force_new_tokens:
            self.generate_kwargs["min_new_tokens"] = force_new_tokens

    @property
    def model(self) -> Any:
        if self._model is None:
            from transformers import Qwen2_5_VLForConditionalGeneration

            self._model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
                self.model_dir, dtype=self.dtype or "auto", local_files_only=True).to(self.device).eval()
        return self._model

    def messages(self, frame_paths: list[str], prompt: str) -> list[dict]:
        """The card's messages: one user turn (no system turn), the video item, then the instruction."""
        video = {"type": "video", "video": frame_paths, "resized_height": REFERENCE_SIZE[0],
                 "resized_width": REFERENCE_SIZE[1], "fps": 1}
        return [{"role": "user", "content": [video, {"type": "text", "text": reference_instruction(prompt)}]}]

    def prepare(self, video: str | Path, prompt: str, folder: Path) -> ReferenceInputs:
        """Decode ``video`` at 1 fps, write the frames into ``folder`` and build the model inputs as the card does."""
        frames, indices = decode_frames(video)
        paths = write_pngs(frames, folder)
        return self.inputs_for_files(paths, prompt, indices)

    def inputs_for_files(self, frame_paths: list[str], prompt: str, frame_indices: list[int]) -> ReferenceInputs:
        """qwen-vl-utils + the processor on frame image files, with the spacing set as released."""
        import torch
        from qwen_vl_utils import process_vision_info

        messages = self.messages(frame_paths, prompt)
        text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        images, videos, _ = process_vision_info(messages, return_video_kwargs=True)
        # qwen-vl-utils' video kwargs are dropped: 0.0.14 says 2.0 fps for any frame list. The release-era
        # processor read fps 1 (transformers 4.5x: ``fps``); transformers >= 5 reads only per-video metadata.
        metadata = [{"fps": REFERENCE_FPS, "total_num_frames": int(v.shape[0]),
                     "frames_indices": list(range(int(v.shape[0])))} for v in videos]
        inputs = self.processor(text=[text], images=images, videos=videos, padding=True, return_tensors="pt",
                                fps=REFERENCE_FPS, video_metadata=metadata, do_sample_frames=False)
        # ... and set explicitly, whatever the installed processor made of it.
        inputs["second_per_grid_ts"] = torch.tensor([REFERENCE_SECOND_PER_GRID_TS] * len(videos))
        return ReferenceInputs(inputs, text, reference_instruction(prompt), list(frame_indices))

    def run(self, video: str | Path, prompt: str) -> ReferenceOutput:
        """Score one video the card's way; decode and parse failures give an output with ``error`` set."""
        import torch

        from aigve.parsing import parse_response

        timings: dict[str, float] = {}
        tmp = Path(tempfile.mkdtemp(prefix="aigve-ref-"))
        try:
            start = time.perf_counter()
            frames, indices = decode_frames(video)
            paths = write_pngs(frames, tmp)
            timings["decode_s"] = time.perf_counter() - start

            start = time.perf_counter()
            inputs = self.inputs_for_files(paths, prompt, indices).inputs.to(self.device)
            timings["preprocess_s"] = time.perf_counter() - start

            start = time.perf_counter()
            model = self.model
            with torch.inference_mode():
                out = model.generate(**inputs, **self.generate_kwargs)
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
