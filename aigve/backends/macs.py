"""The ``macs`` backend: a Qwen2.5-VL-family judge (default ``xiaoliux/AIGVE-MACS``) run with transformers.

One call of :meth:`MacsBackend.score` is one left-padded batch: inputs from
:func:`aigve.backends.qwen_inputs.build_inputs`, greedy ``generate``, and per video the text, the number of
generated tokens, timings, and expected scores read from the logits at the generated score digits
(:mod:`aigve.backends.digit_scores`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np

from aigve.aspects import ASPECT_KEYS
from aigve.backends.base import BackendOutput, SpecDefaults
from aigve.backends.digit_scores import digit_token_ids, read_expected_scores, read_vs2_soft_scores
from aigve.backends.hf_checkpoint import (
    load_adapter,
    load_model,
    load_processor,
    resolve_device,
    resolve_dtype,
    resolve_source,
)
from aigve.backends.qwen_inputs import build_inputs
from aigve.config import GenerationConfig, SamplingConfig
from aigve.core.provenance import Provenance, read_stamp, stamp_details
from aigve.judges.formats import backend_answer, judged_record
from aigve.judges.profile import DECODING_FIELDS

if TYPE_CHECKING:
    from aigve.judges.profile import JudgeProfile
    from aigve.media import SampledPair, SampledVideo

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "xiaoliux/AIGVE-MACS"
#: ``config.model_type`` values whose inputs this backend builds: Qwen2.5-VL (M-RoPE time via
#: ``second_per_grid_ts``) and Qwen3-VL (time as ``<t seconds>`` text per temporal patch, from the metadata).
SUPPORTED_MODEL_TYPES = ("qwen2_5_vl", "qwen3_vl")


def hf_generation_config(gen: GenerationConfig, *, eos_token_id: Any, pad_token_id: int | None,
                         bos_token_id: int | None = None):
    """A transformers ``GenerationConfig`` built only from aigve's options (nothing inherited).

    The checkpoint's own generation config (Qwen ships ``top_k=1``, ``repetition_penalty=1.05``) is not
    merged in: aigve's :class:`~aigve.config.GenerationConfig` is the one source of decoding options, so a
    result records everything that shaped it. ``force_new_tokens`` sets ``min_new_tokens = max_new_tokens``.
    """
    from transformers import GenerationConfig as HFGenerationConfig

    eos = list(eos_token_id) if isinstance(eos_token_id, (list, tuple)) else [eos_token_id]
    max_new = gen.force_new_tokens or gen.max_new_tokens
    min_new = gen.force_new_tokens or gen.min_new_tokens
    sampling = {"do_sample": True, "temperature": gen.temperature, "top_p": gen.top_p, "top_k": gen.top_k} \
        if gen.do_sample else {"do_sample": False}
    return HFGenerationConfig(
        max_new_tokens=max_new, min_new_tokens=min_new, num_beams=1, repetition_penalty=gen.repetition_penalty,
        return_dict_in_generate=True,
        eos_token_id=eos, pad_token_id=pad_token_id if pad_token_id is not None else eos[0],
        bos_token_id=bos_token_id, **sampling,
    )


def checkpoint_provenance(source: Any, config: Any = None) -> Provenance:
    """The provenance stamped in the checkpoint ``source`` was loaded from (its folder's stamp file, or the
    stamp in its loaded ``config``); a checkpoint without a stamp is real, whatever its name."""
    folder = source.location if getattr(source, "is_folder", False) else None
    return read_stamp(folder, config)


def tiny_build(source: Any, config: Any = None) -> dict[str, Any]:
    """``{"aigve_tiny": True, "taught": bool}`` for a tiny test checkpoint (read from its stamp), else ``{}``:
    the older record fields, kept beside ``provenance`` for readers of earlier runs."""
    found = checkpoint_provenance(source, config)
    if found.kind != "tiny":
        return {}
    folder = source.location if getattr(source, "is_folder", False) else None
    return {"aigve_tiny": True, "taught": bool(stamp_details(folder).get("taught"))}


def _digit_recorder(digit_ids: Sequence[int], device: Any):
    """A logits processor that keeps, per step, the digit logits (B, 6) and the log-partition (B,).

    Cheaper than ``output_logits`` (which holds a full vocabulary row per step and video: ~0.6 GB for
    1536 steps of a 152k vocabulary). It runs after the built-in processors, which for greedy decoding only
    touch EOS (``min_new_tokens``), and before sampling warpers, so it sees the model's own logits.
    """
    import torch
    from transformers import LogitsProcessor

    class DigitLogitsRecorder(LogitsProcessor):
        def __init__(self) -> None:
            self.index = torch.tensor(list(digit_ids), device=device)
            self.digits: list[torch.Tensor] = []
            self.lse: list[torch.Tensor] = []

        def __call__(self, input_ids, scores):
            scores32 = scores.float()
            self.digits.append(scores32.index_select(-1, self.index))
            self.lse.append(torch.logsumexp(scores32, dim=-1))
            return scores

        def arrays(self) -> tuple[np.ndarray, np.ndarray]:
            """``(steps, B, 6)`` digit logits and ``(steps, B)`` log-partition, on the CPU."""
            if not self.digits:
                return np.zeros((0, 0, len(digit_ids))), np.zeros((0, 0))
            return torch.stack(self.digits).cpu().numpy(), torch.stack(self.lse).cpu().numpy()

    return DigitLogitsRecorder()


class MacsBackend:
    """Transformers backend for Qwen2.5-VL-family judges (AIGVE-MACS or any fine-tune of Qwen2.5-VL).

    ``model``: hub id or local checkpoint folder. ``adapter``: optional peft LoRA folder or hub id;
    ``merge_adapter`` folds it into the weights (faster generation, same outputs up to rounding).
    ``dtype``/``device``: ``auto`` = bfloat16 on CUDA (float16 without bf16 support), float32 on CPU.
    ``profile``: the judge profile (:mod:`aigve.judges.profiles`; None = the one recorded with the adapter or
    checkpoint, else ``macs-card``, the released usage). ``generation``: decoding fields over the profile's
    (a dict of the fields to change, or a complete GenerationConfig). ``released_keys``: False asks the
    ``aigve`` profile for canonical key spellings (None = the profile's). ``local_files_only``: None = offline iff ``HF_HUB_OFFLINE`` is set.
    Weights load in the constructor; unavailable weights raise ModelLoadError before any network wait.
    """

    name = "macs"
    uses_prompt = True

    @property
    def videos_per_item(self) -> int:
        """The judge profile's: 2 for a pairwise profile (items are :class:`~aigve.media.SampledPair`)."""
        return self.profile.videos

    @classmethod
    def spec_defaults(cls) -> SpecDefaults:
        """What a run spec fills in for options left unset (see :class:`aigve.backends.base.SpecDefaults`)."""
        return SpecDefaults(model=DEFAULT_MODEL, released_keys=True, generates=True, profiled=True)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        adapter: str | None = None,
        dtype: Any = "auto",
        device: str | None = "auto",
        attn_implementation: str | None = None,
        generation: GenerationConfig | dict | None = None,
        released_keys: bool | None = None,
        merge_adapter: bool = False,
        local_files_only: bool | None = None,
        trust_remote_code: bool = False,
        profile: str | JudgeProfile | None = None,
    ):
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.model_source = resolve_source(model, local_files_only=local_files_only)
        self.adapter_source = None if adapter is None else resolve_source(
            adapter, local_files_only=local_files_only, what="adapter", setting="adapter",
            required_file="adapter_config.json")
        self.merge_adapter = bool(merge_adapter and adapter is not None)
        start = perf_counter()
        self.processor = load_processor(self.model_source, trust_remote_code=trust_remote_code)
        self.processor.tokenizer.padding_side = "left"  # generation continues every row at the same column
        self.model = load_model(self.model_source, dtype=self.dtype, device=self.device,
                                attn_implementation=attn_implementation, trust_remote_code=trust_remote_code)
        if self.adapter_source is not None:
            self.model = load_adapter(self.model, self.adapter_source, merge=self.merge_adapter)
        self.load_seconds = perf_counter() - start
        self._apply_profile(profile, released_keys, generation)
        model_type = getattr(getattr(self.model, "config", None), "model_type", None)
        if model_type not in SUPPORTED_MODEL_TYPES:
            logger.warning("%s is a %r checkpoint; the macs backend is built and tested for Qwen2.5-VL (%s)",
                           model, model_type, ", ".join(SUPPORTED_MODEL_TYPES))
        tokenizer = self.processor.tokenizer
        self.digit_ids = digit_token_ids(tokenizer)
        if self.digit_ids is None:
            logger.warning("%s: score digits are not single tokens; expected scores are unavailable", model)
        base = self.model.generation_config
        eos = base.eos_token_id if base.eos_token_id is not None else tokenizer.eos_token_id
        pad = base.pad_token_id if base.pad_token_id is not None else tokenizer.pad_token_id
        self.hf_generation = hf_generation_config(self.generation, eos_token_id=eos, pad_token_id=pad,
                                                  bos_token_id=base.bos_token_id)
        self._eos = set(self.hf_generation.eos_token_id)
        logger.info("loaded %s (%s, %s) in %.2f s", self.model_source.name, self.dtype, self.device,
                    self.load_seconds)

    def _apply_profile(self, profile: str | JudgeProfile | None, released_keys: bool | None,
                       generation: GenerationConfig | dict | None) -> None:
        """Choose the judge profile (named, else recorded with the adapter/checkpoint, else ``macs-card``) and the
        decoding it implies: the profile's, with the checkpoint's generation_config.json decoding fields when the
        profile says so, then the caller's ``generation`` fields on top (a GenerationConfig replaces all)."""
        from aigve.judges.profiles import mismatch, resolve_profile, warn_once, with_released_keys

        folder = lambda src: src.location if src is not None and src.is_folder else None  # noqa: E731
        chosen, self.profile_source = resolve_profile(profile, model=folder(self.model_source),
                                                      adapter=folder(self.adapter_source))
        self.profile = with_released_keys(chosen, released_keys)
        self.released_keys = self.profile.released_keys
        self.profile_warning = mismatch(self.profile, self.model_source.name)
        if self.profile_warning:
            warn_once(self.profile_warning)
        checkpoint = self.model.generation_config.to_dict() if self.profile.from_checkpoint else None
        self.checkpoint_generation = {k: checkpoint.get(k) for k in DECODING_FIELDS} if checkpoint else None
        if isinstance(generation, GenerationConfig):
            self.generation = generation
        else:
            self.generation = GenerationConfig.from_dict({**self.profile.generation(checkpoint), **(generation or {})})

    def describe(self) -> dict[str, Any]:
        """Identity recorded with every result (the judge profile's name and content hash among it)."""
        import transformers

        config = getattr(self.model, "config", None)
        return {
            **self.profile.describe(),
            **judged_record(self.profile),
            "profile_source": self.profile_source,
            "profile_warning": self.profile_warning,
            "checkpoint_generation": self.checkpoint_generation,
            "name": self.name,
            "model": self.model_source.name,
            "adapter": None if self.adapter_source is None else self.adapter_source.name,
            "adapter_merged": self.merge_adapter,
            "dtype": str(self.dtype).removeprefix("torch."),
            "device": self.device,
            "released_keys": self.released_keys,
            "attn_implementation": getattr(config, "_attn_implementation", None),
            "generation": self.generation.to_dict(),
            "transformers": transformers.__version__,
            **tiny_build(self.model_source, config),
            "provenance": self.provenance().to_dict(),
        }

    def provenance(self) -> Provenance:
        """Read from the checkpoint's stamp (see :mod:`aigve.core.provenance`), never from its name."""
        return checkpoint_provenance(self.model_source, getattr(self.model, "config", None))

    def sampling_overrides(self) -> dict[str, Any]:
        """The judge profile's frame rules over the checkpoint's per-frame pixel caps
        (:func:`checkpoint_sampling_caps`)."""
        return judge_sampling_overrides(self.processor, self.profile)

    def prepare(self, videos: Sequence[SampledVideo | SampledPair], prompts: Sequence[str]) -> PreparedBatch:
        """The CPU side of :meth:`score` (chat template, tokenizer, video processor, left padding).

        The evaluator runs it in a background thread for the next batch while the model works on this one.
        """
        start = perf_counter()
        inputs = build_inputs(self.processor, videos, prompts, self.released_keys, profile=self.profile)
        return PreparedBatch(inputs, perf_counter() - start, len(videos))

    def score(self, videos: Sequence[SampledVideo | SampledPair], prompts: Sequence[str],
              prepared: PreparedBatch | None = None) -> list[BackendOutput]:
        """Generate one answer per video as one left-padded batch; outputs in input order.

        ``prepared``: :meth:`prepare` of the same lists, done ahead (else done now). ``timings`` are the
        batch's seconds divided evenly over its videos (``extra["batch_size"]`` says how many shared them).
        """
        import torch
        from transformers import LogitsProcessorList

        prepared = check_prepared(prepared, videos) or self.prepare(videos, prompts)
        preprocess_s = prepared.preprocess_s
        inputs = prepared.inputs.to(self.device)
        recorder = _digit_recorder(self.digit_ids, self.device) if self.digit_ids else None
        start = perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**inputs, generation_config=self.hf_generation,
                                      logits_processor=LogitsProcessorList([recorder] if recorder else []))
        model_s = perf_counter() - start
        prompt_len = inputs["input_ids"].shape[1]
        generated = out.sequences[:, prompt_len:].cpu().tolist()
        digits, lse = recorder.arrays() if recorder else (None, None)
        n = len(videos)
        outputs = []
        for row, ids in enumerate(generated):
            output = self._row_output(ids, row, digits, lse, inputs)
            output.timings = {"preprocess_s": preprocess_s / n, "model_s": model_s / n}
            output.extra["batch_size"] = n
            outputs.append(output)
        return outputs

    def _row_output(self, ids: list[int], row: int, digits: np.ndarray | None, lse: np.ndarray | None,
                    inputs: Any) -> BackendOutput:
        length = next((i + 1 for i, t in enumerate(ids) if t in self._eos), len(ids))
        ids = ids[:length]
        tokenizer = self.processor.tokenizer

        @cache
        def decode(k: int) -> str:
            return tokenizer.decode(ids[:k], skip_special_tokens=True, clean_up_tokenization_spaces=False)

        text = decode(length)
        parsed, preference = backend_answer(self.profile, text)
        nine = self.profile.output_format == "aigve_json"  # digits are located in the AIGVE-MACS JSON answer
        expected: dict[str, float | None] = dict.fromkeys(ASPECT_KEYS if nine else ())
        confidence: dict[str, float | None] = dict.fromkeys(ASPECT_KEYS if nine else ())
        mass: dict[str, float] = {}
        if digits is not None and nine:
            found = read_expected_scores(decode, ids, self.digit_ids, digits[:length, row], lse[:length, row])
            expected.update(found[0])
            confidence.update(found[1])
            mass = found[2]
        elif digits is not None and self.profile.output_format == "videoscore2_lines" and parsed is not None:
            # the release's normalised soft score (what the VideoScore2 paper reports), beside the integer answer
            labels = {a.key: f"{a.released_key}:" for a in self.profile.aspect_set.aspects}
            temperature = self.generation.temperature if self.generation.do_sample else 1.0
            expected, confidence = read_vs2_soft_scores(decode, length, digits[:length, row], labels,
                                                        parsed.scores, temperature)
        per = self.profile.videos  # the processor lists each request's videos in order: rows per*row ...
        rows = range(per * row, per * row + per)
        grids = [inputs["video_grid_thw"][r].tolist() for r in rows]
        merge = self.processor.video_processor.merge_size
        extra: dict[str, Any] = {
            "prompt_tokens": int(inputs["attention_mask"][row].sum()),
            "visual_tokens": sum(int(np.prod(g)) for g in grids) // merge**2,
            "video_grid_thw": grids[0] if per == 1 else grids,
            "stopped": "eos" if ids and ids[-1] in self._eos else "max_new_tokens",
            "score_digit_mass": mass,
        }
        if "second_per_grid_ts" in inputs:
            spacing = [float(inputs["second_per_grid_ts"][r]) for r in rows]
            extra["second_per_grid_ts"] = spacing[0] if per == 1 else spacing
        return BackendOutput(text=text, parsed=parsed, preference=preference, expected_scores=expected,
                             confidence=confidence, num_generated_tokens=length, extra=extra)


def judge_sampling_overrides(processor: Any, profile: JudgeProfile) -> dict[str, Any]:
    """SamplingConfig fields for a checkpoint run under ``profile``: the profile's frame rules over the
    checkpoint's per-frame pixel caps. Shared by scoring and ``aigve inputs`` (:mod:`aigve.judges.inputs`)."""
    vp = processor.video_processor
    defaults = SamplingConfig().to_dict()
    # Rules at aigve's defaults are left out: the overrides then list only what the profile changes (the
    # ``aigve`` profile changes nothing), and the resulting SamplingConfig is the same either way.
    factor = vp.patch_size * vp.merge_size  # 28 for Qwen2.5-VL, 32 for Qwen3-VL (patch 16)
    wanted = {**profile.sampling_overrides(factor=factor), "patch_factor": factor}
    rules = {k: v for k, v in wanted.items() if v != defaults.get(k)}
    return {**checkpoint_sampling_caps(processor), **rules}


def checkpoint_sampling_caps(processor: Any) -> dict[str, Any]:
    """Cap per-frame pixels at a checkpoint's video processor limit when it is below aigve's default.

    A checkpoint whose processor never produced larger frames was never trained on them; within the
    cap aigve's own budget (``SamplingConfig``) decides. ``min_pixels`` follows so the pair stays valid.
    Shared by scoring (``MacsBackend.sampling_overrides``) and training, so both see the same frames.
    """
    size = getattr(processor.video_processor, "size", None) or {}
    limit = size.get("longest_edge")
    floor = size.get("shortest_edge") or limit
    default = SamplingConfig()
    if not limit or limit >= default.max_pixels:
        return {}
    return {"max_pixels": int(limit), "min_pixels": int(min(default.min_pixels, floor, limit))}


@dataclass
class PreparedBatch:
    """Model inputs of one batch built on the CPU (``inputs``: a BatchFeature), with the seconds it took."""

    inputs: Any
    preprocess_s: float
    size: int


def check_prepared(prepared: PreparedBatch | None, videos: Sequence[SampledVideo]) -> PreparedBatch | None:
    if prepared is not None and prepared.size != len(videos):
        raise ValueError(f"prepared batch holds {prepared.size} videos, score() got {len(videos)}")
    return prepared
