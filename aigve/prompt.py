"""The instruction template, shared by evaluation and training so both see exactly the same request."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aigve.aspects import ASPECTS, SCORE_MAX, SCORE_MIN, output_key

SYSTEM_PROMPT = "You are a helpful assistant."

_HEADER = (
    "You are an expert evaluator of AI-generated videos. Watch the video carefully and evaluate it "
    "on the following nine aspects:\n"
)


def build_instruction(prompt: str, *, released_keys: bool = True) -> str:
    """The user turn text (without the video) asking for all nine aspects as JSON.

    ``released_keys=True`` spells keys as the released AIGVE-MACS model was trained
    (``element_presentence``, ``action_presentence``). The text ends with
    ``The video instruction is: <prompt>`` as in the released model's format.
    """
    lines = [_HEADER]
    for i, aspect in enumerate(ASPECTS, 1):
        key = output_key(aspect.key, released=released_keys)
        lines.append(f"{i}. {key}: {aspect.definition}. ({aspect.rubric})\n")
    example = {output_key(a.key, released=released_keys): {"comment": "...", "score": 0} for a in ASPECTS[:1]}
    lines.append(
        f"\nFor each aspect write a short comment explaining your judgement, then give a whole-number "
        f"score from {SCORE_MIN} to {SCORE_MAX}. Answer with a single JSON object that maps each aspect "
        f"key to {{\"comment\": str, \"score\": int}}, for example {json.dumps(example)}, covering all "
        f"nine aspects in the order above.\n"
    )
    lines.append(f"The video instruction is: {prompt.strip()}")
    return "".join(lines)


def build_messages(prompt: str, *, released_keys: bool = True, video: object = None) -> list[dict]:
    """Chat messages in the HF multimodal format: system turn, then user turn with the video first.

    ``video`` is placed in the video content item (frames, a path, or None for a placeholder).
    """
    video_item: dict = {"type": "video"}
    if video is not None:
        video_item["video"] = video
    return [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        {"role": "user", "content": [video_item, {"type": "text", "text": build_instruction(prompt, released_keys=released_keys)}]},
    ]


def format_answer(
    scores: Mapping[str, int | None],
    comments: Mapping[str, str | None] | None = None,
    *,
    released_keys: bool = True,
    ensure_ascii: bool = False,
) -> str:
    """The target JSON answer used for training: ``{key: {"comment": ..., "score": ...}}`` in aspect order.

    Aspects with no score are left out. Without comments the target holds scores only
    (``{key: {"score": n}}``). The released model writes each comment before its score; so do we.
    ``ensure_ascii``: True writes non-ASCII as ``\\uXXXX`` as the released judge does (``json.dumps(obj,
    indent=4)``; the ``macs-card`` profile's serialiser); False keeps the characters (the ``aigve`` profile).
    """
    comments = comments or {}
    answer: dict[str, dict] = {}
    for aspect in ASPECTS:
        score = scores.get(aspect.key)
        if score is None:
            continue
        entry: dict = {}
        comment = comments.get(aspect.key)
        if comment:
            entry["comment"] = comment
        entry["score"] = int(score)
        answer[output_key(aspect.key, released=released_keys)] = entry
    return json.dumps(answer, indent=4, ensure_ascii=ensure_ascii)
