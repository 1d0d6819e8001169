"""The ``vllm`` backend: the same judge, prompt, greedy decoding and parser as ``macs``, served by vLLM.

Two ways to reach vLLM:

* **in-process** (``VllmBackend(model=...)``): ``vllm.LLM`` in this process (optional extra
  ``pip install 'aigve-macs[vllm]'``, needs a CUDA GPU). vllm is imported only here, lazily; without it the
  constructor raises ModelLoadError saying what to install or to use ``server_url``.
* **client** (``VllmBackend(server_url="http://host:8000")``): requests to a running OpenAI-compatible server
  (``vllm serve MODEL``). Each video's sampled frames travel as base64 JPEG frames in a ``video_url`` data URL
  (``data:video/jpeg;base64,<frame>,<frame>,...``). Only that media type is a frame list to vLLM: any other
  (``video/png`` ...) is decoded as one video *file*, so other frame formats are refused. ``mm_processor_kwargs``
  carry the timing and pixel bounds equal to the frames' area, so the server neither re-samples nor resizes.
  Requests run ``concurrency`` at a time; connection errors, 408/429 and 5xx are retried with exponential backoff.

Both ask for the top ``top_logprobs`` log-probabilities per generated token, so results carry expected
scores and confidences like ``macs`` (a digit outside the top-k counts as probability 0, an approximation the
``macs`` backend does not need). The client uses only the standard library (urllib): one POST per video
needs no HTTP dependency in the core install.

The judge profile (``profile``; :mod:`aigve.judges.profiles`, chosen as for ``macs``: named, else recorded in a
local checkpoint folder, else ``macs-card``) decides the messages (system turn, order, instruction), the frame
rules (:meth:`sampling_overrides`), the spacing (``video_metadata`` at the profile's declared rate) and decoding.
Every sampling field is sent explicitly from :class:`~aigve.config.GenerationConfig` (temperature, top_p,
top_k with 0 -> vLLM's -1 "off", repetition_penalty, max/min tokens, seed), never left to the server or the
checkpoint's ``generation_config.json`` (Qwen2.5-VL-Instruct checkpoints ship a repetition penalty there).

Temporal spacing. Qwen2.5-VL's time positions use ``second_per_grid_ts`` = temporal_patch / fps of the frames.
transformers >= 5 computes it only from per-video metadata (a bare ``fps`` is ignored when
``do_sample_frames=False``: 24 fps is assumed, 0.0833 s for 1-fps frames), and vLLM's multimodal parser keeps a
``(frames, metadata)`` tuple's metadata only for models that set ``video_needs_metadata`` (Qwen3-VL, not
Qwen2.5-VL, in vLLM's ``vllm/multimodal/parse.py`` / ``models/qwen2_5_vl.py``). vLLM does forward
``mm_processor_kwargs`` to the HF processor call, so the metadata travels there as ``video_metadata`` (plain
dicts, JSON-safe for the server too) next to ``fps`` (what transformers 4.49-4.5x reads); in process the frames
go as a bare array. Tested on CPU with a stand-in that drops tuple metadata exactly as vLLM does for
Qwen2.5-VL; not yet run against a real vLLM on a GPU (compare ``aigve bench`` paths (b) and (e) there).
A Qwen3-VL-style model (``video_needs_metadata``) would need the tuple instead; aigve's judges are Qwen2.5-VL.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from aigve.aspects import ASPECT_KEYS
from aigve.backends.base import BackendOutput, SpecDefaults
from aigve.backends.digit_scores import SCORE_VALUES, digit_token_ids, read_expected_scores
from aigve.config import GenerationConfig
from aigve.core.provenance import Provenance, read_stamp
from aigve.errors import AigveError, ConfigError, ModelLoadError
from aigve.judges.formats import backend_answer, judged_record
from aigve.judges.profile import DECODING_FIELDS

if TYPE_CHECKING:
    from aigve.judges.profile import JudgeProfile
    from aigve.media import SampledVideo

log = logging.getLogger(__name__)

DEFAULT_MODEL = "xiaoliux/AIGVE-MACS"
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
DIGITS = tuple(str(v) for v in SCORE_VALUES)


class ServerError(AigveError):
    """The vLLM server refused or failed a request (after retries, where retrying made sense)."""


def vllm_unavailable_reason() -> str | None:
    """Why in-process vLLM cannot run here (None when it can)."""
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install 'aigve-macs[vllm]')"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU is visible (in-process vLLM needs one)"
    return None


FRAME_FORMATS = ("jpeg",)


def check_frame_format(fmt: object) -> str:
    """``fmt`` if vLLM reads it as a frame list (only ``jpeg``), else ConfigError."""
    if fmt not in FRAME_FORMATS:
        raise ConfigError("frame_format", fmt, "use jpeg: vLLM reads only data:video/jpeg URLs as frame lists "
                                               "(other types are decoded as one broken video file)")
    return str(fmt)


def encode_frames(frames: np.ndarray, fmt: str = "jpeg", quality: int = 95) -> list[str]:
    """Base64 strings of each (H, W, 3) uint8 RGB frame encoded as JPEG."""
    from PIL import Image

    check_frame_format(fmt)
    out = []
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
        out.append(base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


def frames_metadata(video: SampledVideo) -> dict[str, Any]:
    """JSON-safe video metadata for the processor: the ``T`` frames as their own clip at the sampled fps
    (indices ``0..T-1``), as :func:`aigve.backends.qwen_inputs.video_metadata`, so the processor's
    ``second_per_grid_ts`` = temporal_patch / sampled fps."""
    t = int(video.frames.shape[0])
    fps = float(video.plan.sampled_fps)
    return {"fps": fps, "total_num_frames": t, "frames_indices": list(range(t)), "duration": t / fps}


def chat_messages(video: SampledVideo, prompt: str, profile: JudgeProfile, *, frame_format: str = "jpeg") -> list[dict]:
    """OpenAI-style chat messages laid out as ``profile`` says (system turn or none, video/text order, its
    instruction), with the frames as one ``data:video/jpeg`` frame-list URL."""
    url = "data:video/jpeg;base64," + ",".join(encode_frames(video.frames, frame_format))
    video_item = {"type": "video_url", "video_url": {"url": url}}
    text_item = {"type": "text", "text": profile.instruction_for(prompt)}
    content = [video_item, text_item] if profile.order == "video_text" else [text_item, video_item]
    messages: list[dict] = []
    if profile.system_turn is not None:
        messages.append({"role": "system", "content": profile.system_turn})
    messages.append({"role": "user", "content": content})
    return messages


def expected_from_logprobs(tokens: Sequence[str], top: Sequence[dict[str, float]]) -> tuple[dict, dict]:
    """Expected score and confidence per aspect from generated token strings and their top-k log-probabilities.

    ``tokens[i]``: text of generated token i; ``top[i]``: ``{token text: logprob}`` at step i. Digits missing
    from a step's top-k count as probability 0.
    """
    logits = np.array([[t.get(d, -np.inf) for d in DIGITS] for t in top], dtype=np.float64).reshape(len(top), len(DIGITS))

    def decode_prefix(k: int) -> str:
        return "".join(tokens[:k])

    expected, confidence, _ = read_expected_scores(decode_prefix, list(tokens), list(DIGITS), logits)
    return expected, confidence


def digit_mass_from_logprobs(tokens: Sequence[str], top: Sequence[dict[str, float]]) -> dict[str, float]:
    """Per aspect, the digits' share of the whole vocabulary at the generated score digit, ``sum_d exp(logprob_d)``
    (log-probabilities are already normalised over the vocabulary). A lower bound: digits outside the step's
    top-k count 0."""
    logits = np.array([[t.get(d, -np.inf) for d in DIGITS] for t in top], dtype=np.float64).reshape(len(top), len(DIGITS))
    return read_expected_scores(lambda k: "".join(tokens[:k]), list(tokens), list(DIGITS), logits,
                                np.zeros(len(top)))[2]


class VllmBackend:
    """vLLM judge, in-process (``model``) or as a client of an OpenAI-compatible server (``server_url``).

    ``generation``: aigve decoding options (greedy by default; ``force_new_tokens`` -> min = max tokens).
    ``served_model_name``: the server's model name (default: asked from ``/v1/models``). ``concurrency``:
    requests in flight; ``max_retries``/``retry_backoff_s``: retry policy (delay doubles, with jitter);
    ``timeout_s``: per request. ``frame_format``: jpeg (the only frame-list format vLLM reads).
    ``mm_processor_kwargs``: processor options sent with each video instead of the default (the frames' timing
    as ``video_metadata`` and ``fps``, ``do_sample_frames=False``, pixel bounds equal to the frames' area).
    Other keyword options go to ``vllm.LLM`` (in-process only).
    """

    name = "vllm"
    uses_prompt = True
    videos_per_item = 1

    @classmethod
    def spec_defaults(cls) -> SpecDefaults:
        """What a run spec fills in for options left unset (see :class:`aigve.backends.base.SpecDefaults`)."""
        return SpecDefaults(model=DEFAULT_MODEL, released_keys=True, generates=True, server_option="server_url",
                            profiled=True)

    def __init__(self, model: str = DEFAULT_MODEL, server_url: str | None = None, *,
                 served_model_name: str | None = None, generation: GenerationConfig | dict | None = None,
                 released_keys: bool | None = None, profile: str | JudgeProfile | None = None,
                 top_logprobs: int = 20, concurrency: int = 8, max_retries: int = 4,
                 retry_backoff_s: float = 0.5, timeout_s: float = 600.0, frame_format: str = "jpeg",
                 api_key: str | None = None, mm_processor_kwargs: dict | None = None, **engine_options: Any):
        self.model, self.top_logprobs = model, int(top_logprobs)
        self.concurrency, self.max_retries = max(1, int(concurrency)), max(0, int(max_retries))
        self.retry_backoff_s, self.timeout_s = float(retry_backoff_s), float(timeout_s)
        self.frame_format = check_frame_format(frame_format)
        self.api_key, self.mm_processor_kwargs = api_key, mm_processor_kwargs
        self.server_url = server_url.rstrip("/") if server_url else None
        if self.server_url:
            self.served_model_name = served_model_name or self._server_model()
            self._llm, self._digit_ids = None, None
            self._apply_profile(profile, released_keys, generation, self._local_folder())
        else:
            self.served_model_name = served_model_name or model
            self._llm, self._processor, location = self._load_engine(engine_options)
            self._apply_profile(profile, released_keys, generation, location)

    def _local_folder(self) -> str | None:
        from pathlib import Path

        return self.model if isinstance(self.model, str) and self.model and Path(self.model).is_dir() else None

    def _apply_profile(self, profile: str | JudgeProfile | None, released_keys: bool | None,
                       generation: GenerationConfig | dict | None, checkpoint_folder: str | None) -> None:
        """Choose the judge profile as ``macs`` does (named, else recorded in a local checkpoint folder, else
        ``macs-card``) and the decoding it implies: the profile's, with the checkpoint's generation_config.json
        decoding fields when the profile says so and the folder is readable here, then the caller's
        ``generation`` fields on top (a GenerationConfig replaces all). Every field is then sent explicitly."""
        from aigve.judges.profiles import mismatch, resolve_profile, warn_once, with_released_keys

        chosen, self.profile_source = resolve_profile(profile, model=self._local_folder())
        if chosen.videos != 1:
            raise ConfigError("profile", chosen.name, "the vllm backend sends one video per request; run this "
                              "pairwise profile with the macs backend (`backend=macs`)")
        self.profile = with_released_keys(chosen, released_keys)
        self.released_keys = self.profile.released_keys
        self.profile_warning = mismatch(self.profile, self.served_model_name)
        if self.profile_warning:
            warn_once(self.profile_warning)
        checkpoint = _checkpoint_generation(checkpoint_folder) if self.profile.from_checkpoint else None
        if self.profile.from_checkpoint and checkpoint is None and not isinstance(generation, GenerationConfig):
            log.warning("judge profile %r takes decoding from the checkpoint's generation_config.json, which is not "
                        "readable here (%s); sending the profile's own decoding fields explicitly instead",
                        self.profile.name, self.served_model_name)
        self.checkpoint_generation = checkpoint
        if isinstance(generation, GenerationConfig):
            self.generation = generation
        else:
            self.generation = GenerationConfig.from_dict({**self.profile.generation(checkpoint), **(generation or {})})

    # ----------------------------------------------------------------------------------------- common

    def describe(self) -> dict[str, Any]:
        return {**self.profile.describe(), **judged_record(self.profile), "profile_source": self.profile_source,
                "profile_warning": self.profile_warning, "checkpoint_generation": self.checkpoint_generation,
                "name": self.name, "model": self.served_model_name, "server_url": self.server_url,
                "mode": "client" if self.server_url else "in-process", "released_keys": self.released_keys,
                "generation": self.generation.to_dict(), "top_logprobs": self.top_logprobs,
                "frame_format": self.frame_format, "provenance": self.provenance().to_dict()}

    def provenance(self) -> Provenance:
        """The stamp of the checkpoint folder (in process, or a server started on a local folder); a hub id or
        a server's model name carries none and is real."""
        return read_stamp(self._local_folder())

    def sampling_overrides(self) -> dict[str, Any]:
        """The judge profile's frame rules (rate, start, cap, even-count rule, frame size, spacing). In process
        over the checkpoint's per-frame pixel caps, as for ``macs``; a server's processor is not visible from
        here, so a client applies the rules with qwen-vl-utils' factor 28 and aigve's configured caps."""
        from aigve.backends.macs import judge_sampling_overrides
        from aigve.config import SamplingConfig

        if self._llm is not None:
            return judge_sampling_overrides(self._processor, self.profile)
        defaults = SamplingConfig().to_dict()
        return {k: v for k, v in self.profile.sampling_overrides().items() if v != defaults.get(k)}

    def prepare(self, videos: Sequence[SampledVideo], prompts: Sequence[str]) -> None:
        """Nothing to prepare ahead: vLLM (or the server) runs its own processor."""
        return None

    def score(self, videos: Sequence[SampledVideo], prompts: Sequence[str],
              prepared: None = None) -> list[BackendOutput]:
        if len(videos) != len(prompts):
            raise ConfigError("prompts", len(prompts), f"need one prompt per video ({len(videos)})")
        if self.server_url:
            with ThreadPoolExecutor(min(self.concurrency, max(1, len(videos)))) as pool:
                return list(pool.map(self._score_remote, videos, prompts))
        return self._score_local(videos, prompts)

    def _max_tokens(self) -> tuple[int, int | None]:
        gen = self.generation
        return gen.force_new_tokens or gen.max_new_tokens, gen.force_new_tokens or gen.min_new_tokens

    def _processor_kwargs(self, video: SampledVideo) -> dict[str, Any]:
        """Processor options sent with each video (vLLM passes them to the HF processor call, in process and in
        a server): the frames' timing as ``video_metadata`` (what transformers >= 5 reads; vLLM drops tuple
        metadata for Qwen2.5-VL) and ``fps`` (what transformers 4.5x reads), no re-sampling, and pixel bounds
        equal to the frames' own area so the processor keeps aigve's planned frame size (its defaults would
        otherwise upscale small frames to the checkpoint's minimum, changing the token count)."""
        if self.mm_processor_kwargs is not None:
            return dict(self.mm_processor_kwargs)
        area = int(video.frames.shape[1]) * int(video.frames.shape[2])
        return {"fps": float(video.plan.sampled_fps), "video_metadata": [frames_metadata(video)],
                "do_sample_frames": False, "size": {"shortest_edge": area, "longest_edge": area}}

    # ----------------------------------------------------------------------------------------- client

    def _request(self, path: str, body: dict | None = None) -> dict:
        """GET (``body`` None) or POST JSON to the server, retrying transient failures with backoff."""
        url = f"{self.server_url}{path}"
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        for attempt in range(self.max_retries + 1):
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read().decode())
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:500]
                if exc.code not in RETRY_STATUS or attempt == self.max_retries:
                    raise ServerError(f"{url}: HTTP {exc.code} after {attempt + 1} attempt(s): {detail}; check the "
                                      f"server log and that it serves a Qwen2.5-VL model with video input") from None
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.max_retries:
                    raise ServerError(f"{url}: cannot reach the server after {attempt + 1} attempt(s) ({exc}); "
                                      f"start it with `vllm serve MODEL` or fix server_url") from None
                reason = str(exc)
            delay = self.retry_backoff_s * 2**attempt * (1 + 0.25 * random.random())
            log.warning("%s: %s; retry %d/%d in %.1f s", url, reason, attempt + 1, self.max_retries, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _server_model(self) -> str:
        models = self._request("/v1/models").get("data") or []
        if not models:
            raise ServerError(f"{self.server_url}/v1/models lists no model; pass served_model_name")
        return str(models[0]["id"])

    def _score_remote(self, video: SampledVideo, prompt: str) -> BackendOutput:
        max_tokens, min_tokens = self._max_tokens()
        body: dict[str, Any] = {
            "model": self.served_model_name, "max_tokens": max_tokens,
            "messages": chat_messages(video, prompt, self.profile, frame_format=self.frame_format),
            "mm_processor_kwargs": self._processor_kwargs(video),
            "logprobs": self.top_logprobs > 0, **({"top_logprobs": self.top_logprobs} if self.top_logprobs else {}),
            **self._sampling_body(),
        }
        if min_tokens:
            body["min_tokens"] = min_tokens  # vLLM extension of the OpenAI schema
        start = time.perf_counter()
        reply = self._request("/v1/chat/completions", body)
        model_s = time.perf_counter() - start
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ServerError(f"{self.server_url}: unexpected reply shape {str(reply)[:300]}") from None
        content = ((choice.get("logprobs") or {}).get("content")) or []
        tokens = [c.get("token", "") for c in content]
        top = [{t.get("token", ""): float(t.get("logprob", -np.inf)) for t in c.get("top_logprobs") or []} for c in content]
        usage = reply.get("usage") or {}
        # Token strings are all the server returns; they locate the score digits only when they spell the
        # answer exactly (special tokens or split multi-byte characters would shift every offset).
        scores = expected_from_logprobs(tokens, top) if tokens and len(top) == len(tokens) \
            and "".join(tokens) == text else None
        mass = digit_mass_from_logprobs(tokens, top) if scores is not None else None
        return self._output(text, scores, usage.get("completion_tokens", len(tokens)), model_s,
                            {"finish_reason": choice.get("finish_reason"), "prompt_tokens": usage.get("prompt_tokens"),
                             "score_digit_mass": mass})

    def _sampling_body(self) -> dict[str, Any]:
        """Every decoding field, explicit (vLLM's names; top_k 0 = off is vLLM's -1). Greedy sends the neutral
        values vLLM itself forces at temperature 0, so the request reads the same as what runs."""
        gen = self.generation
        common = {"repetition_penalty": gen.repetition_penalty, "seed": 0}
        if gen.do_sample:
            return {"temperature": gen.temperature, "top_p": gen.top_p, "top_k": gen.top_k or -1, **common}
        return {"temperature": 0.0, "top_p": 1.0, "top_k": -1, **common}

    def _output(self, text: str, scores: tuple[dict, dict] | None, n_tokens: int, model_s: float,
                extra: dict[str, Any]) -> BackendOutput:
        """``scores``: (expected, confidence) per aspect read from the log-probabilities, or None. A profile with
        its own output format (VideoScore2) is parsed here (:func:`aigve.judges.formats.backend_answer`)."""
        parsed, _ = backend_answer(self.profile, text)
        nine = parsed is None  # digits are located in the AIGVE-MACS JSON answer only
        expected: dict[str, float | None] = dict.fromkeys(ASPECT_KEYS if nine else ())
        confidence: dict[str, float | None] = dict.fromkeys(ASPECT_KEYS if nine else ())
        if scores is not None and nine:
            expected.update(scores[0])
            confidence.update(scores[1])
        return BackendOutput(text=text, parsed=parsed, expected_scores=expected, confidence=confidence,
                             num_generated_tokens=int(n_tokens), timings={"preprocess_s": 0.0, "model_s": model_s},
                             extra={k: v for k, v in extra.items() if v is not None})

    # ----------------------------------------------------------------------------------------- in-process

    def _load_engine(self, options: dict[str, Any]) -> tuple[Any, Any, Any]:
        reason = vllm_unavailable_reason()
        if reason is not None:
            raise ModelLoadError(f"vllm backend: {reason}; or pass server_url=http://HOST:PORT to use a running "
                                 f"`vllm serve` instead")
        from vllm import LLM

        from aigve.backends.hf_checkpoint import load_processor, resolve_source

        # Same fail-fast resolution as ``macs``: a missing folder or an uncached hub id while offline is an
        # error now, not a download attempt (or a long retry loop) inside the engine.
        source = resolve_source(self.model)
        processor = load_processor(source)
        options = {"limit_mm_per_prompt": {"video": 1}, "seed": 0, **options}
        self._digit_ids = digit_token_ids(processor.tokenizer)
        return LLM(model=source.location, **options), processor, source.location

    def _engine_request(self, video: SampledVideo, prompt: str) -> dict[str, Any]:
        """One ``vllm.LLM.generate`` prompt: chat-template text, the bare frames and the processor options,
        which carry the timing. A ``(frames, metadata)`` tuple would not: vLLM keeps tuple metadata only for
        models that ask for it (not Qwen2.5-VL), and releases before video metadata existed read the tuple
        itself as the video."""
        from aigve.backends.qwen_inputs import chat_text

        text = chat_text(self._processor, prompt, profile=self.profile)
        return {"prompt": text, "multi_modal_data": {"video": [video.frames]},
                "mm_processor_kwargs": self._processor_kwargs(video)}

    def _engine_scores(self, comp: Any) -> tuple[dict, dict, dict] | None:
        """Expected scores, confidences and digit masses from an engine completion's token ids and per-step
        top-k ``{token id: Logprob}`` (vLLM always includes the sampled token). Digits are found by decoding id
        prefixes exactly as the answer text was decoded, as ``macs`` does. vLLM's log-probabilities are
        normalised over the vocabulary, so the log-partition is 0 and the mass is ``sum_d exp(logprob_d)``
        (a lower bound: digits outside the step's top-k count 0), as on the server path."""
        ids, steps = list(comp.token_ids), list(comp.logprobs or [])
        if not ids or len(steps) != len(ids) or self._digit_ids is None:
            return None
        tokenizer = self._processor.tokenizer
        # Logprob is vLLM's own record type (not ours): a digit outside the top-k is absent from the step's dict
        logprobs = np.array([[getattr((step or {}).get(d), "logprob", -np.inf) for d in self._digit_ids]
                             for step in steps], dtype=np.float64)
        return read_expected_scores(lambda k: tokenizer.decode(ids[:k], skip_special_tokens=True), ids,
                                    self._digit_ids, logprobs, np.zeros(len(ids)))

    def _score_local(self, videos: Sequence[SampledVideo], prompts: Sequence[str]) -> list[BackendOutput]:
        from vllm import SamplingParams

        max_tokens, min_tokens = self._max_tokens()
        params = SamplingParams(max_tokens=max_tokens, min_tokens=min_tokens or 0, logprobs=self.top_logprobs or None,
                                **self._sampling_body())
        start = time.perf_counter()
        requests = [self._engine_request(video, prompt) for video, prompt in zip(videos, prompts, strict=True)]
        preprocess_s = time.perf_counter() - start
        start = time.perf_counter()
        results = self._llm.generate(requests, params, use_tqdm=False)
        model_s = (time.perf_counter() - start) / max(1, len(videos))
        outputs = []
        for res in results:
            comp = res.outputs[0]
            scores = self._engine_scores(comp)
            out = self._output(comp.text, None if scores is None else scores[:2], len(comp.token_ids), model_s,
                               {"finish_reason": comp.finish_reason, "prompt_tokens": len(res.prompt_token_ids or []),
                                "score_digit_mass": None if scores is None else scores[2]})
            out.timings["preprocess_s"] = preprocess_s / max(1, len(videos))
            outputs.append(out)
        return outputs


def _checkpoint_generation(folder: Any) -> dict[str, Any] | None:
    """The :data:`~aigve.judges.profile.DECODING_FIELDS` of a checkpoint folder's generation_config.json
    (None when there is no readable one)."""
    from pathlib import Path

    if folder is None or not (Path(str(folder)) / "generation_config.json").is_file():
        return None
    from transformers import GenerationConfig as HFGenerationConfig

    config = HFGenerationConfig.from_pretrained(str(folder)).to_dict()
    return {k: config.get(k) for k in DECODING_FIELDS}
