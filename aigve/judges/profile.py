"""Judge profiles: everything about how a judge is run, as one frozen, validated, hashable value.

A judge scores well only on inputs like the ones it was trained on. The released AIGVE-MACS checkpoint was
trained and documented with one instruction text, one frame rule (1 fps from t = 0, last frame repeated,
476x840), one temporal spacing (2.0 s per temporal patch) and its checkpoint's decoding; aigve's own prompt and
sampling differ in every one of those. A :class:`JudgeProfile` names each choice explicitly, so a run records
exactly how its judge saw the video (``name`` + :meth:`JudgeProfile.content_sha256`) and a mismatch is visible.

The shipped profiles and their registry live in :mod:`aigve.judges.profiles`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aigve.aspects import DEFAULT_ASPECT_SET, AspectSet
from aigve.core.validate import boolean, choice, finite, optional, positive, positive_int, text
from aigve.errors import ConfigError

#: Message layouts: the video item before the instruction text, or after it.
ORDERS = ("video_text", "text_video")
#: Frame size rules: ``fixed`` (resize every frame to one size, rounded to the patch factor as
#: qwen-vl-utils' ``smart_resize`` does; aspect ratio not kept) or ``token_budget`` (aspect-keeping, capped by
#: aigve's visual-token budget: :func:`aigve.sampling.plan_sampling`).
SIZE_RULES = ("fixed", "token_budget")
#: Answer serialisers: ``json_indent4_ascii`` = ``json.dumps(obj, indent=4)`` (non-ASCII as ``\\uXXXX``, the
#: released judge's own output, byte-exact on 149/149 real outputs); ``json_indent4_unicode`` = the same with
#: ``ensure_ascii=False`` (aigve's training targets before judge profiles).
SERIALISERS = ("json_indent4_ascii", "json_indent4_unicode")
PLACEHOLDER = "{prompt}"
#: Output formats a profile's parser reads (:mod:`aigve.judges.formats`): ``aigve_json`` (one JSON object of
#: ``{aspect: {"comment", "score"}}``, the AIGVE-MACS answer; :func:`aigve.parsing.parse_response`),
#: ``videoscore2_lines`` (VideoScore2's reasoning then ``visual quality: v; text-to-video alignment: t,
#: physical/common-sense consistency: p``) and ``pairwise_verdict`` (UnifiedReward's "Video 1 is better" /
#: "Video 2 is better" / otherwise same, for two videos).
OUTPUT_FORMATS = ("aigve_json", "videoscore2_lines", "pairwise_verdict")
#: Fields added after the first profiles: left out of :meth:`JudgeProfile.to_dict` (and so of the content hash)
#: while they hold these defaults, so the hashes recorded with existing runs and adapters stay valid.
_LATER_DEFAULTS: dict[str, Any] = {"aspect_set": DEFAULT_ASPECT_SET, "output_format": "aigve_json", "videos": 1,
                                   "pinned": ()}
#: Decoding fields a profile sets (explicitly, or read from the checkpoint's generation_config.json).
DECODING_FIELDS = ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty")


def round_to_factor(value: int, factor: int) -> int:
    """qwen-vl-utils' per-side rounding of a requested size: ``round(value / factor) * factor``, at least one
    factor (Python's round: 854 / 28 = 30.5 -> 30, so 480 x 854 -> 476 x 840). Areas this size are far inside
    qwen-vl-utils' default min/max pixels, so its ``smart_resize`` does only this rounding."""
    return max(factor, round(value / factor) * factor)


@dataclass(frozen=True)
class JudgeProfile:
    """How one judge is run, field by field (all explicit: nothing is "whatever the backend defaults to").

    Message layout: ``system_turn`` (None = no explicit system turn; the Qwen2.5-VL chat template then adds its
    default "You are a helpful assistant."), ``order`` (:data:`ORDERS`). ``instruction``: the user text with one
    ``{prompt}`` where the generation prompt goes (replaced verbatim; ``strip_prompt`` strips it first).
    Frames: ``fps`` (samples per second of video), ``start`` (``zero``: frame round(k * source_fps / fps);
    ``centred``: aigve's centred intervals), ``max_frames`` (cap; longer clips are sampled more sparsely),
    ``min_frames`` (``centred`` only), ``even_rule`` (``repeat_last`` | ``distinct``), ``size_rule`` with
    ``resized_height``/``resized_width`` (requested ``fixed`` size, before rounding to 28), ``spacing``
    (``declared``: second_per_grid_ts = temporal_patch / fps; ``sampled``: from the frames' real timing).
    Decoding: ``max_new_tokens``; ``from_checkpoint`` True = the checkpoint's generation_config.json decides
    :data:`DECODING_FIELDS` (read when the model loads, recorded, and sent explicitly); else ``do_sample``,
    ``temperature``, ``top_p``, ``top_k`` (0 = off), ``repetition_penalty`` (1.0 = off).
    Output: ``released_keys`` (key spelling asked for) and ``serialiser`` (:data:`SERIALISERS`, used for
    training targets). ``for_checkpoints``: model names (hub ids) this profile was made for; another profile on
    one of them is warned about.
    Judge kind: ``aspect_set`` (the aspects and scale the answer scores; the nine AIGVE-MACS aspects by default),
    ``output_format`` (:data:`OUTPUT_FORMATS`, which parser reads the answer: :mod:`aigve.judges.formats`),
    ``videos`` (1, or 2 for a pairwise judge), ``pinned`` (decoding fields kept over the checkpoint's).
    """

    name: str
    summary: str
    instruction: str
    system_turn: str | None = None
    order: str = "video_text"
    strip_prompt: bool = False
    fps: float = 1.0
    start: str = "zero"
    max_frames: int = 64
    min_frames: int = 2
    even_rule: str = "repeat_last"
    size_rule: str = "fixed"
    resized_height: int | None = 480
    resized_width: int | None = 854
    spacing: str = "declared"
    max_new_tokens: int = 1500
    from_checkpoint: bool = True
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    released_keys: bool = True
    serialiser: str = "json_indent4_ascii"
    for_checkpoints: tuple[str, ...] = field(default_factory=tuple)
    aspect_set: AspectSet = DEFAULT_ASPECT_SET
    output_format: str = "aigve_json"
    videos: int = 1
    pinned: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        text("name", self.name, max_length=64)
        text("summary", self.summary, max_length=200)
        text("instruction", self.instruction, max_length=100_000)
        if self.instruction.count(PLACEHOLDER) != 1:
            raise ConfigError("instruction", self.instruction[:60] + "...",
                              f"must hold {PLACEHOLDER} exactly once (found {self.instruction.count(PLACEHOLDER)})")
        optional(text, "system_turn", self.system_turn)
        choice("order", self.order, ORDERS)
        boolean("strip_prompt", self.strip_prompt)
        positive("fps", self.fps, high=1000)
        choice("start", self.start, ("zero", "centred"))
        positive_int("max_frames", self.max_frames, high=100_000)
        positive_int("min_frames", self.min_frames, high=self.max_frames)
        choice("even_rule", self.even_rule, ("repeat_last", "distinct"))
        choice("size_rule", self.size_rule, SIZE_RULES)
        if self.size_rule == "fixed":
            positive_int("resized_height", self.resized_height, high=100_000)
            positive_int("resized_width", self.resized_width, high=100_000)
        choice("spacing", self.spacing, ("declared", "sampled"))
        positive_int("max_new_tokens", self.max_new_tokens, high=1_000_000)
        boolean("from_checkpoint", self.from_checkpoint)
        boolean("do_sample", self.do_sample)
        positive("temperature", self.temperature)
        finite("top_p", self.top_p, low=0.0, high=1.0, low_open=True)
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < 0:
            raise ConfigError("top_k", self.top_k, "must be an integer >= 0 (0 = off)")
        positive("repetition_penalty", self.repetition_penalty)
        boolean("released_keys", self.released_keys)
        choice("serialiser", self.serialiser, SERIALISERS)
        if not isinstance(self.for_checkpoints, tuple):
            object.__setattr__(self, "for_checkpoints", tuple(self.for_checkpoints))
        if not isinstance(self.aspect_set, AspectSet):
            raise ConfigError("aspect_set", type(self.aspect_set).__name__, "must be an aigve.aspects.AspectSet")
        choice("output_format", self.output_format, OUTPUT_FORMATS)
        if not isinstance(self.pinned, tuple):
            object.__setattr__(self, "pinned", tuple(self.pinned))
        for name in self.pinned:
            choice("pinned", name, DECODING_FIELDS)
        positive_int("videos", self.videos, high=2)
        if (self.videos == 2) != (self.output_format == "pairwise_verdict"):
            raise ConfigError("videos", self.videos, "must be 2 exactly for the pairwise_verdict output format")
        if self.output_format == "videoscore2_lines" and len(self.aspect_set.keys) != 3:
            raise ConfigError("aspect_set", self.aspect_set.name,
                              "the videoscore2_lines answer has three dimensions: give a set of three aspects")
        if self.output_format == "aigve_json" and not self.aspect_set.is_default:
            raise ConfigError("aspect_set", self.aspect_set.name,
                              "the aigve_json parser reads the nine AIGVE-MACS aspects only")

    # ------------------------------------------------------------------------------------------- identity
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["for_checkpoints"] = list(self.for_checkpoints)
        if self.output_format == _LATER_DEFAULTS["output_format"]:
            del d["output_format"]
        if self.videos == _LATER_DEFAULTS["videos"]:
            del d["videos"]
        if self.pinned == _LATER_DEFAULTS["pinned"]:
            del d["pinned"]
        else:
            d["pinned"] = list(self.pinned)
        if self.aspect_set == _LATER_DEFAULTS["aspect_set"]:
            del d["aspect_set"]
        else:  # keys and scale are what a parser and a record depend on
            d["aspect_set"] = {"name": self.aspect_set.name, "keys": list(self.aspect_set.keys),
                               "score_min": self.aspect_set.score_min, "score_max": self.aspect_set.score_max}
        return d

    def content_sha256(self) -> str:
        """sha256 (hex) of the full canonical content (every field, sorted-key JSON, UTF-8)."""
        canon = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canon.encode("utf-8")).hexdigest()

    # ------------------------------------------------------------------------------------------- messages
    def instruction_for(self, prompt: str) -> str:
        """The user text for one generation prompt (the template with ``{prompt}`` replaced, not str.format:
        templates may hold JSON braces)."""
        return self.instruction.replace(PLACEHOLDER, prompt.strip() if self.strip_prompt else prompt)

    def messages(self, prompt: str, video: object = None, second: object = None) -> list[dict]:
        """Chat messages in the HF multimodal format for one video (``video``: frames, a path, a frame list or
        None for a placeholder item); a pairwise profile (``videos`` 2) puts ``video`` (A, "Video 1") then
        ``second`` (B, "Video 2")."""
        items: list[dict] = []
        for clip in (video, second)[:self.videos]:
            item: dict = {"type": "video"}
            if clip is not None:
                item["video"] = clip
            items.append(item)
        text_item = {"type": "text", "text": self.instruction_for(prompt)}
        content = [*items, text_item] if self.order == "video_text" else [text_item, *items]
        messages: list[dict] = []
        if self.system_turn is not None:
            messages.append({"role": "system", "content": [{"type": "text", "text": self.system_turn}]})
        messages.append({"role": "user", "content": content})
        return messages

    # ------------------------------------------------------------------------------------------- frames
    def frame_size(self, factor: int = 28) -> tuple[int, int] | None:
        """``(h, w)`` every frame is resized to (``fixed``), rounded as qwen-vl-utils does; None otherwise."""
        if self.size_rule != "fixed":
            return None
        return round_to_factor(int(self.resized_height), factor), round_to_factor(int(self.resized_width), factor)

    def sampling_overrides(self, factor: int = 28) -> dict[str, Any]:
        """:class:`aigve.config.SamplingConfig` fields this profile decides (the user's explicit sampling
        flags still win over them)."""
        out: dict[str, Any] = {"fps": self.fps, "start": self.start, "even_rule": self.even_rule,
                               "max_frames": self.max_frames, "min_frames": min(self.min_frames, self.max_frames),
                               "spacing": self.spacing}
        size = self.frame_size(factor)
        if size is not None:
            h, w = size
            out.update(fixed_height=h, fixed_width=w)
            # The budget must admit max_frames of the fixed size (the card caps nothing; memory does).
            out["max_visual_tokens"] = max(16384, math.ceil(self.max_frames / 2) * (h // factor) * (w // factor))
        return out

    # ------------------------------------------------------------------------------------------- decoding
    def generation(self, checkpoint: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Complete decoding fields for :class:`aigve.config.GenerationConfig`.

        ``checkpoint``: the loaded checkpoint's generation config as a dict (``GenerationConfig.to_dict()``);
        with ``from_checkpoint`` its :data:`DECODING_FIELDS` replace the profile's (missing ones keep the
        profile's values; ``top_k`` None -> 0, ``repetition_penalty`` None -> 1.0), except the ``pinned`` ones,
        which the release passes to ``generate()`` itself (VideoScore2: ``do_sample``, ``temperature``).
        """
        out = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample, "temperature": self.temperature,
               "top_p": self.top_p, "top_k": self.top_k, "repetition_penalty": self.repetition_penalty}
        if self.from_checkpoint and checkpoint:
            for key in DECODING_FIELDS:
                if key in self.pinned:  # the release passes this one to generate() itself
                    continue
                value = checkpoint.get(key)
                if value is not None:
                    out[key] = bool(value) if key == "do_sample" else value
        if not out["do_sample"]:  # greedy: sampling fields are not used; keep them neutral and valid
            out.update(temperature=1.0, top_p=1.0, top_k=0)
        return out

    # ------------------------------------------------------------------------------------------- answers
    def serialise(self, answer: Mapping[str, Any]) -> str:
        """The answer text a judge run with this profile writes (and is trained to write)."""
        return json.dumps(answer, indent=4, ensure_ascii=self.serialiser == "json_indent4_ascii")

    def describe(self) -> dict[str, str]:
        """``{"profile": name, "profile_sha256": hash}``: what every run and result records."""
        return {"profile": self.name, "profile_sha256": self.content_sha256()}
