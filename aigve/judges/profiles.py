"""The shipped judge profiles, which one applies to a model/adapter, and the once-only mismatch warning.

``macs-card``: the released AIGVE-MACS usage exactly (model card; ``shared/reference`` holds it as data).
``vs2-harness``: the same judge as the third-party VideoScore2 harness ran it for the published comparisons
(2 fps). ``aigve``: aigve's own prompt and sampling, for judges trained with aigve.

Choosing: a profile named by the caller wins; else the one recorded in the adapter folder, else in the model
folder (``aigve_profile.json``, written by ``aigve train``); else ``macs-card``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

from aigve.judges.profile import JudgeProfile

logger = logging.getLogger(__name__)

DEFAULT_PROFILE = "macs-card"
#: File beside ``adapter_config.json`` (or in a model folder) naming the profile a judge was trained with.
PROFILE_FILE = "aigve_profile.json"
RELEASED_CHECKPOINT = "xiaoliux/AIGVE-MACS"


def card_instruction() -> str:
    """The released instruction template, byte for byte (1,501 bytes, no trailing newline; its missing spaces
    and misspelled keys are part of the interface)."""
    return (resources.files("aigve.judges") / "data" / "aigve_macs_instruction.txt").read_bytes().decode("utf-8")


def _macs_card() -> JudgeProfile:
    return JudgeProfile(
        name="macs-card",
        summary="released AIGVE-MACS usage: card instruction, 1 fps from t=0, last frame repeated, 476x840, "
                "spacing 2.0, checkpoint decoding, 1500 tokens",
        instruction=card_instruction(), system_turn=None, order="video_text", strip_prompt=False,
        fps=1.0, start="zero", max_frames=64, min_frames=2, even_rule="repeat_last",
        size_rule="fixed", resized_height=480, resized_width=854, spacing="declared",
        max_new_tokens=1500, from_checkpoint=True, released_keys=True, serialiser="json_indent4_ascii",
        for_checkpoints=(RELEASED_CHECKPOINT,),
    )


def _vs2_harness() -> JudgeProfile:
    return dataclasses.replace(
        _macs_card(), name="vs2-harness", fps=2.0,
        summary="AIGVE-MACS as the VideoScore2 harness ran it (published comparisons): macs-card at 2 fps",
    )


def _aigve() -> JudgeProfile:
    from aigve.config import GenerationConfig, SamplingConfig
    from aigve.prompt import SYSTEM_PROMPT, build_instruction

    s, g = SamplingConfig(), GenerationConfig()
    return JudgeProfile(
        name="aigve",
        summary="aigve's own rubric prompt and sampling (centred distinct frames, aspect-keeping token budget, "
                "greedy), for judges trained with aigve",
        instruction=build_instruction("{prompt}", released_keys=True), system_turn=SYSTEM_PROMPT,
        order="video_text", strip_prompt=True, fps=s.fps, start="centred", max_frames=s.max_frames,
        min_frames=s.min_frames, even_rule="distinct", size_rule="token_budget", resized_height=None,
        resized_width=None, spacing="sampled", max_new_tokens=g.max_new_tokens, from_checkpoint=False,
        do_sample=g.do_sample, temperature=g.temperature, top_p=g.top_p, top_k=g.top_k,
        repetition_penalty=g.repetition_penalty, released_keys=True, serialiser="json_indent4_unicode",
    )


_BUILDERS = {"macs-card": _macs_card, "vs2-harness": _vs2_harness, "aigve": _aigve}
_CACHE: dict[str, JudgeProfile] = {}


def get_profile(name: str | JudgeProfile) -> JudgeProfile:
    """The shipped profile ``name`` (a JudgeProfile passes through); unknown names: "did you mean"."""
    if isinstance(name, JudgeProfile):
        return name
    from aigve.registry import PROFILES

    if name not in _CACHE:
        _CACHE[name] = PROFILES.get(name)()
    return _CACHE[name]


def with_released_keys(profile: JudgeProfile, released_keys: bool | None) -> JudgeProfile:
    """``profile`` asking for canonical keys when ``released_keys`` is False (only the ``aigve`` instruction is
    built from the aspect list; a fixed released instruction keeps its spelling and is returned unchanged)."""
    if released_keys is None or bool(released_keys) == profile.released_keys or profile.name != "aigve":
        return profile
    from aigve.prompt import build_instruction

    return dataclasses.replace(profile, name="aigve-canonical-keys", released_keys=bool(released_keys),
                               instruction=build_instruction("{prompt}", released_keys=bool(released_keys)))


def recorded_profile(folder: Any) -> dict[str, Any] | None:
    """``{"profile", "profile_sha256"}`` recorded in a local model/adapter folder, or None."""
    if folder is None:
        return None
    path = Path(str(folder)).expanduser() / PROFILE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("%s: unreadable (%s); ignoring the recorded judge profile", path, exc)
        return None
    return data if isinstance(data, dict) and isinstance(data.get("profile"), str) else None


def write_profile_record(folder: Any, profile: JudgeProfile) -> Path:
    """Write ``aigve_profile.json`` (name + content hash + full content) into a trained adapter/model folder."""
    path = Path(str(folder)) / PROFILE_FILE
    path.write_text(json.dumps({**profile.describe(), "content": profile.to_dict()}, indent=2) + "\n",
                    encoding="utf-8")
    return path


def resolve_profile(name: str | JudgeProfile | None, *, model: Any = None,
                    adapter: Any = None) -> tuple[JudgeProfile, str]:
    """``(profile, source)``: source is ``named``, ``adapter``, ``checkpoint`` or ``default``.

    A recorded profile whose hash differs from the shipped one of that name is used by name, with a warning
    (the profile changed since the judge was trained).
    """
    if name is not None:
        return get_profile(name), "named"
    for source, folder in (("adapter", adapter), ("checkpoint", model)):
        record = recorded_profile(folder)
        if record is None:
            continue
        profile = get_profile(record["profile"])
        if record.get("profile_sha256") not in (None, profile.content_sha256()):
            warn_once(f"{folder}: trained with judge profile {profile.name!r} of another content "
                      f"(sha256 {str(record.get('profile_sha256'))[:12]}, now {profile.content_sha256()[:12]})")
        return profile, source
    return get_profile(DEFAULT_PROFILE), "default"


def mismatch(profile: JudgeProfile, model_name: str | None) -> str | None:
    """A one-line warning when ``model_name`` is a checkpoint another shipped profile was made for, else None."""
    if not model_name or model_name in profile.for_checkpoints:
        return None
    made_for = [p for p in _BUILDERS if model_name in get_profile(p).for_checkpoints]
    if not made_for:
        return None
    return (f"judge profile {profile.name!r} on {model_name}, which was released to be run with "
            f"{made_for[0]!r}: its scores are then off the checkpoint's training distribution")


_WARNED: set[str] = set()


def warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time it is seen in this process (and print it to stderr)."""
    if message in _WARNED:
        return
    _WARNED.add(message)
    logger.warning("%s", message)


# ------------------------------------------------------------------------------ judges other than AIGVE-MACS

ZEROSHOT_CHECKPOINT = "Qwen/Qwen2.5-VL-7B-Instruct"
VIDEOSCORE2_CHECKPOINT = "TIGER-Lab/VideoScore2"
UNIFIEDREWARD_CHECKPOINT = "CodeGoat24/UnifiedReward-qwen-7b"


def released_instruction(filename: str) -> str:
    """A released instruction stored byte for byte under ``aigve/judges/data`` (sources: ``data/SOURCES.md``)."""
    return (resources.files("aigve.judges") / "data" / filename).read_bytes().decode("utf-8")


def videoscore2_aspects():
    """VideoScore2's three dimensions on its 1-5 scale; ``released_key`` is the label its answer writes."""
    from aigve.aspects import Aspect, AspectSet

    def dim(key: str, label: str, released: str, definition: str, needs_prompt: bool,
            aliases: tuple[str, ...]) -> Aspect:
        return Aspect(key, label, definition, "1 = worst; 5 = best (VideoScore2 scale)", needs_prompt=needs_prompt,
                      released_key=released, aliases=aliases, score_min=1, score_max=5)

    return AspectSet("videoscore2", (
        dim("visual_quality", "Visual quality", "visual quality", "clarity, smoothness, artifacts", False,
            ("visual",)),
        dim("text_alignment", "Text-to-video alignment", "text-to-video alignment", "fidelity to the prompt",
            True, ("text_to_video_alignment", "t2v_alignment", "alignment")),
        dim("physical_consistency", "Physical/common-sense consistency", "physical/common-sense consistency",
            "naturalness and physics plausibility", False,
            ("physical_common_sense_consistency", "physical_common_sense", "commonsense")),
    ), score_min=1, score_max=5)


#: What the profiles below do not yet reproduce of their releases (both feed a video file to qwen-vl-utils,
#: which picks ``linspace`` frame indices at 2 fps and resizes under a pixel budget; aigve samples from t = 0 at
#: the same rate and keeps the aspect ratio under its token budget): frame indices and sizes may differ.
QWEN_VL_UTILS_FRAMES_NOTE = "frames approximate qwen-vl-utils' video-file sampling (2 fps), not byte-exact"


def _qwen25vl_zeroshot() -> JudgeProfile:
    return dataclasses.replace(
        _macs_card(), name="qwen25vl-zeroshot", for_checkpoints=(ZEROSHOT_CHECKPOINT,),
        summary="untuned Qwen2.5-VL-7B-Instruct on the released AIGVE-MACS instruction and inputs (zero-shot "
                "baseline; checkpoint decoding)",
    )


def _videoscore2() -> JudgeProfile:
    return JudgeProfile(
        name="videoscore2",
        summary="VideoScore2 as released (vs2_inference.py): its prompt, 2 fps, sampled at temperature 0.7, "
                "1024 tokens, three 1-5 dimensions after reasoning",
        instruction=released_instruction("videoscore2_instruction.txt"), system_turn=None, order="video_text",
        strip_prompt=False, fps=2.0, start="zero", max_frames=768, min_frames=4, even_rule="distinct",
        size_rule="token_budget", resized_height=None, resized_width=None, spacing="declared",
        max_new_tokens=1024, from_checkpoint=True, do_sample=True, temperature=0.7, pinned=("do_sample", "temperature"),
        released_keys=True, serialiser="json_indent4_ascii", for_checkpoints=(VIDEOSCORE2_CHECKPOINT,),
        aspect_set=videoscore2_aspects(), output_format="videoscore2_lines",
    )


def _unifiedreward_video() -> JudgeProfile:
    return JudgeProfile(
        name="unifiedreward-video",
        summary="UnifiedReward (Qwen2.5-VL) pairwise video prompt as released: two videos, one verdict "
                "A | B | same, checkpoint decoding, 1024 tokens",
        instruction=released_instruction("unifiedreward_video_pair_instruction.txt"), system_turn=None,
        order="video_text", strip_prompt=False, fps=2.0, start="zero", max_frames=768, min_frames=4,
        even_rule="distinct", size_rule="token_budget", resized_height=None, resized_width=None,
        spacing="declared", max_new_tokens=1024, from_checkpoint=True, released_keys=True,
        serialiser="json_indent4_ascii", for_checkpoints=(UNIFIEDREWARD_CHECKPOINT,),
        output_format="pairwise_verdict", videos=2,
    )


def nine_aspect_answer(profile: JudgeProfile) -> bool:
    """Whether ``profile``'s answer is the AIGVE-MACS nine-aspect JSON for one video: what training targets and
    the web UI's nine-score view are made of. (Scoring runs and benchmark runs take every profile: a profile
    with its own aspects is recorded with them, a pairwise one scores pairs.)"""
    return profile.output_format == "aigve_json" and profile.videos == 1


def require_nine_aspect_answer(profile: JudgeProfile, use: str) -> None:
    """ConfigError naming ``use`` (e.g. "training") when ``profile``'s answer is not the nine-aspect JSON."""
    if not nine_aspect_answer(profile):
        from aigve.errors import ConfigError

        raise ConfigError("profile", profile.name,
                          f"{use} reads the nine-aspect AIGVE-MACS JSON answer; this profile's answer is "
                          f"{profile.output_format} ({profile.videos} video(s) per item): choose a profile with the "
                          "aigve_json format (macs-card, vs2-harness, aigve, qwen25vl-zeroshot)")


def compares_pairs(name: str | None) -> bool:
    """Whether the profile named ``name`` is shown two videos per request (a pairwise judge); False for None (the
    profile recorded with the checkpoint, read when the model loads). An unknown name: UnknownNameError with
    "did you mean", before anything is scored."""
    return name is not None and get_profile(name).videos == 2


def require_one_video(profile: JudgeProfile, use: str) -> None:
    """ConfigError naming ``use`` (e.g. "`aigve score`") for a pairwise profile, which needs pairs of videos."""
    if profile.videos != 1:
        from aigve.errors import ConfigError

        raise ConfigError("profile", profile.name, f"{use} scores one video per item, and this judge compares two; "
                          "run it on a pairwise benchmark (`aigve benchmark run videogen-rewardbench ...`)")


_BUILDERS.update({"qwen25vl-zeroshot": _qwen25vl_zeroshot, "videoscore2": _videoscore2,
                  "unifiedreward-video": _unifiedreward_video})
