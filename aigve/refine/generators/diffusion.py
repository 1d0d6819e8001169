"""Text-to-video with a diffusers pipeline (CogVideoX, Wan, LTX-Video, ...), loaded lazily from a model id or a
local folder with ``DiffusionPipeline.from_pretrained``; on the GPU when one is present."""

from __future__ import annotations

import inspect
import logging
import time
import warnings
from pathlib import Path
from typing import Any

from aigve.errors import ConfigError, ModelLoadError
from aigve.video_writer import to_uint8_frames, write_mp4

log = logging.getLogger(__name__)


class DiffusersGenerator:
    """``model``: hub id or folder. ``num_frames``, ``num_inference_steps``, ``guidance_scale``, ``height``,
    ``width``, ``negative_prompt`` go to the pipeline call when set (and only those its ``__call__`` accepts);
    ``call_options`` adds any other call argument. ``fps``: frame rate of the written mp4. ``dtype``:
    ``auto`` = bfloat16 on CUDA, float32 on CPU. ``cpu_offload``: use accelerate's model offload."""

    name = "diffusers"

    def __init__(self, model: str, *, device: str | None = None, dtype: str = "auto", fps: float = 8.0,
                 num_frames: int | None = None, num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, height: int | None = None, width: int | None = None,
                 negative_prompt: str | None = None, cpu_offload: bool = False,
                 call_options: dict[str, Any] | None = None):
        if not model:
            raise ConfigError("model", model, "give a diffusers model id or folder: `generator_option=model=...`")
        self.model, self.device, self.dtype, self.fps = str(model), device, dtype, float(fps)
        self.cpu_offload = cpu_offload
        self.call_options = {k: v for k, v in {
            "num_frames": num_frames, "num_inference_steps": num_inference_steps, "guidance_scale": guidance_scale,
            "height": height, "width": width, "negative_prompt": negative_prompt}.items() if v is not None}
        self.call_options.update(call_options or {})
        self._pipe: Any = None
        self.load_s: float | None = None

    def _torch_dtype(self, torch: Any, device: str) -> Any:
        if self.dtype == "auto":
            return torch.bfloat16 if device.startswith("cuda") else torch.float32
        try:
            return getattr(torch, self.dtype)
        except AttributeError:
            raise ConfigError("dtype", self.dtype, "use auto, float32, float16 or bfloat16") from None

    @property
    def pipe(self) -> Any:
        """The pipeline, loaded on first use."""
        if self._pipe is None:
            import torch
            from diffusers import DiffusionPipeline

            from aigve.backends.hf_checkpoint import resolve_source

            # fails at once (with the download hint) for a missing folder or an unreachable, uncached hub id
            source = resolve_source(self.model, what="generator model", setting="generator_option=model",
                                    required_file="model_index.json")
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    # diffusers >= 0.4x renames torch_dtype to dtype; older releases know only torch_dtype
                    warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
                    pipe = DiffusionPipeline.from_pretrained(source.location, local_files_only=source.local_only,
                                                             torch_dtype=self._torch_dtype(torch, device))
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"diffusers pipeline {self.model!r}: {exc}") from exc
            if self.cpu_offload and device.startswith("cuda"):
                pipe.enable_model_cpu_offload()
            else:
                pipe.to(device)
            pipe.set_progress_bar_config(disable=True)
            self._pipe, self.device = pipe, device
            self.load_s = time.perf_counter() - start
            log.info("loaded %s (%s) on %s in %.1f s", self.model, type(pipe).__name__, device, self.load_s)
        return self._pipe

    def call_kwargs(self, prompt: str, seed: int) -> dict[str, Any]:
        """Arguments for the pipeline call, restricted to those its ``__call__`` accepts."""
        import torch

        pipe = self.pipe
        accepted = inspect.signature(pipe.__call__).parameters
        gen_device = "cpu" if self.cpu_offload else self.device
        kwargs: dict[str, Any] = {"prompt": prompt, "generator": torch.Generator(gen_device).manual_seed(int(seed))}
        if "output_type" in accepted:
            kwargs["output_type"] = "np"
        for key, value in self.call_options.items():
            if key in accepted or any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
                kwargs[key] = value
            else:
                log.warning("%s does not take %r; ignored", type(pipe).__name__, key)
        return kwargs

    def generate(self, prompt: str, seed: int, out_path: Path) -> Path:
        import torch

        with torch.inference_mode():
            output = self.pipe(**self.call_kwargs(prompt, seed))
        frames = output.frames if hasattr(output, "frames") else output[0]
        return write_mp4(out_path, to_uint8_frames(frames), self.fps)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "pipeline": type(self._pipe).__name__ if self._pipe else None,
                "device": self.device, "dtype": self.dtype, "fps": self.fps, "call_options": self.call_options,
                "load_s": self.load_s}
