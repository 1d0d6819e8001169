"""What a judge sees for one video: the exact model inputs of the scoring path, written out for inspection.

:func:`judge_inputs` loads only the checkpoint's processor (no weights), samples the video with the rules
scoring uses (:func:`aigve.backends.macs.judge_sampling_overrides` under the user's sampling fields) and builds
the batch with the same :func:`aigve.backends.qwen_inputs.build_inputs` the ``macs`` backend calls, so what
:func:`write_judge_inputs` writes is what ``aigve score`` sends to the model.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigve.judges.profile import JudgeProfile


@dataclass
class JudgeInputs:
    """``chat_text``: the full templated text; ``video``: the sampled video (frames (T, H, W, 3) uint8 as sent);
    ``inputs``: the processor's BatchFeature (batch of 1); ``record``: the inputs.json content."""

    chat_text: str
    video: Any
    inputs: Any
    record: dict[str, Any]


def pixel_sha256(pixel_values: Any) -> str:
    """sha256 of a tensor/array as float32, C order (the fingerprint inputs.json records)."""
    import numpy as np

    arr = pixel_values.detach().cpu().float().numpy() if hasattr(pixel_values, "detach") else np.asarray(pixel_values)
    return hashlib.sha256(np.ascontiguousarray(arr, dtype=np.float32).tobytes()).hexdigest()


def judge_inputs(video_path: str | os.PathLike, prompt: str, *, profile: str | JudgeProfile | None = None,
                 model: str | os.PathLike | None = None, adapter: str | os.PathLike | None = None,
                 sampling: dict[str, Any] | None = None, local_files_only: bool | None = None) -> JudgeInputs:
    """Sample ``video_path`` and build the judge's inputs for ``prompt`` exactly as scoring does.

    ``profile``: None = recorded with the adapter/model folder, else ``macs-card`` (as the backend chooses).
    ``sampling``: SamplingConfig fields the user sets (they win over the profile's, as in ``aigve score``).
    """
    from aigve.backends.hf_checkpoint import load_processor, resolve_source
    from aigve.backends.macs import DEFAULT_MODEL, judge_sampling_overrides
    from aigve.backends.qwen_inputs import build_inputs, chat_text
    from aigve.config import SamplingConfig
    from aigve.judges.profiles import mismatch, resolve_profile, warn_once
    from aigve.video import load_video

    # Only the processor is read: a folder with tokenizer + processor files and no weights is enough.
    source = resolve_source(str(model or DEFAULT_MODEL), local_files_only=local_files_only,
                            required_file="tokenizer_config.json")
    adapter_dir = adapter if adapter is not None and Path(str(adapter)).is_dir() else None
    chosen, how = resolve_profile(profile, model=source.location if source.is_folder else None, adapter=adapter_dir)
    if chosen.videos != 1:
        from aigve.errors import ConfigError

        raise ConfigError("profile", chosen.name, "is a pairwise judge (two videos per request); judge_inputs "
                          "writes one video's inputs: choose a single-video profile")
    problem = mismatch(chosen, source.name)
    if problem:
        warn_once(problem)
    processor = load_processor(source)
    processor.tokenizer.padding_side = "left"
    cfg = SamplingConfig.from_dict({**judge_sampling_overrides(processor, chosen), **(sampling or {})})
    video = load_video(video_path, cfg)
    text = chat_text(processor, prompt, released_keys=chosen.released_keys, profile=chosen)
    inputs = build_inputs(processor, [video], [prompt], chosen.released_keys, profile=chosen)
    return JudgeInputs(text, video, inputs, _record(processor, video, inputs, chosen, how, source.name, problem))


def _record(processor: Any, video: Any, inputs: Any, profile: JudgeProfile, how: str, model: str,
            problem: str | None) -> dict[str, Any]:
    import transformers

    ids = inputs["input_ids"][0]
    video_tokens = int((ids == processor.video_token_id).sum())
    image_tokens = int((ids == processor.image_token_id).sum())
    pv = inputs["pixel_values_videos"]
    record: dict[str, Any] = {
        "video": video.path, "model": model, **profile.describe(), "profile_source": how,
        "profile_warning": problem,
        "frame_indices": list(video.plan.indices), "timestamps": [round(t, 6) for t in video.plan.timestamps],
        "frame_height": int(video.frames.shape[1]), "frame_width": int(video.frames.shape[2]),
        "num_frames": int(video.frames.shape[0]),
        "video_grid_thw": inputs["video_grid_thw"][0].tolist(),
        "second_per_grid_ts": float(inputs["second_per_grid_ts"][0]) if "second_per_grid_ts" in inputs else None,
        "tokens": {"total": int(ids.numel()), "video": video_tokens, "image": image_tokens,
                   "text": int(ids.numel()) - video_tokens - image_tokens},
        "pixel_values_videos": {"shape": list(pv.shape), "sha256_float32_c": pixel_sha256(pv)},
        "sampling": video.sampling_record(), "transformers": transformers.__version__,
    }
    return record


def write_judge_inputs(result: JudgeInputs, out_dir: str | os.PathLike) -> Path:
    """Write ``chat.txt``, ``frames/frame_NNN.png`` (as sent, RGB) and ``inputs.json`` into ``out_dir``."""
    from PIL import Image

    out = Path(out_dir)
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    (out / "chat.txt").write_text(result.chat_text, encoding="utf-8")
    names = []
    for k, frame in enumerate(result.video.frames):
        name = f"frame_{k:03d}.png"
        Image.fromarray(frame).save(frames_dir / name)
        names.append(f"frames/{name}")
    record = {**result.record, "frame_files": names}
    (out / "inputs.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out
