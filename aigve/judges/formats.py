"""Parsers for the output formats judge profiles declare (:data:`aigve.judges.profile.OUTPUT_FORMATS`).

Model output is untrusted text: these read it with regular expressions and integer conversion only (never
``eval``), bound the text they look at, and report what they could not read as None plus a flag, never a
guessed score.

- ``aigve_json``: the AIGVE-MACS JSON answer (:func:`aigve.parsing.parse_response`, nine aspects, 0-5).
- ``videoscore2_lines``: VideoScore2's released answer, free reasoning then
  ``visual quality: <v>; text-to-video alignment: <t>, physical/common-sense consistency: <p>``, read with the
  release's own pattern (``vs2_inference.py``) and the profile's scale (1-5); records use the canonical keys
  ``visual_quality``, ``text_alignment``, ``physical_consistency``.
- ``pairwise_verdict``: UnifiedReward's pairwise answer, read as its release does: ``Video 1 is better`` -> A,
  else ``Video 2 is better`` -> B, else ``same``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aigve.judges.profile import JudgeProfile
from aigve.parsing import ParsedResponse, parse_response

#: Longest answer read (characters); a runaway generation beyond this is cut, flagged ``truncated_input``.
MAX_ANSWER_CHARS = 200_000

#: VideoScore2's released score pattern (vs2_inference.py), DOTALL | IGNORECASE; group order = VS2_KEYS.
VS2_PATTERN = re.compile(
    r"visual quality:\s*(\d+).*?text-to-video alignment:\s*(\d+).*?physical/common-sense consistency:\s*(\d+)",
    re.DOTALL | re.IGNORECASE)
VS2_KEYS = ("visual_quality", "text_alignment", "physical_consistency")
#: The verdict phrases UnifiedReward's release looks for, in the order it checks them.
PAIRWISE_VERDICTS = (("Video 1 is better", "A"), ("Video 2 is better", "B"))
#: The dimension a single-verdict pairwise judge (UnifiedReward: caption alignment + quality) answers.
PAIRWISE_DIMENSION = "overall"


@dataclass
class PairwiseVerdict:
    """A pairwise judge's answer: ``preference`` maps each dimension to ``"A"`` (first video), ``"B"`` or
    ``"same"``; ``flags`` as :class:`aigve.parsing.ParsedResponse` (e.g. ``no_verdict``: no phrase found,
    read as ``same`` as the release does)."""

    preference: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"preference": dict(self.preference), "flags": list(self.flags)}


def _bounded(text: object, flags: list[str]) -> str:
    text = text if isinstance(text, str) else ""
    if len(text) > MAX_ANSWER_CHARS:
        flags.append("truncated_input")
        text = text[:MAX_ANSWER_CHARS]
    return text


def parse_videoscore2(text: object, profile: JudgeProfile) -> ParsedResponse:
    """Scores of a ``videoscore2_lines`` answer, keyed by the profile's aspect keys; the reasoning (the text
    before the score lines) becomes every aspect's comment. A score outside the profile's scale is None with
    ``bad_score:KEY``; no score line gives all None with ``missing:KEY`` each."""
    flags: list[str] = []
    body = _bounded(text, flags)
    keys = profile.aspect_set.keys
    scores: dict[str, int | None] = dict.fromkeys(keys)
    comments: dict[str, str | None] = dict.fromkeys(keys)
    match = VS2_PATTERN.search(body)
    if match is None:
        flags.extend(f"missing:{k}" for k in keys)
        return ParsedResponse(scores=scores, comments=comments, flags=flags)
    reasoning = body[:match.start()].strip() or None
    for key, digits in zip(keys, match.groups(), strict=True):
        value = int(digits[:6])  # \d+ only; six digits bound the conversion
        if profile.aspect_set.is_valid_score(value):
            scores[key] = value
        else:
            flags.append(f"bad_score:{key}")
        comments[key] = reasoning
    return ParsedResponse(scores=scores, comments=comments, flags=flags)


def parse_pairwise(text: object) -> PairwiseVerdict:
    """UnifiedReward's verdict rule on one answer (case-sensitive substring search, as released)."""
    flags: list[str] = []
    body = _bounded(text, flags)
    for phrase, side in PAIRWISE_VERDICTS:
        if phrase in body:
            return PairwiseVerdict({PAIRWISE_DIMENSION: side}, flags)
    if "equally good" not in body:
        flags.append("no_verdict")
    return PairwiseVerdict({PAIRWISE_DIMENSION: "same"}, flags)


def parse_answer(profile: JudgeProfile, text: object) -> ParsedResponse | PairwiseVerdict:
    """The profile's parser on one generated answer."""
    if profile.output_format == "videoscore2_lines":
        return parse_videoscore2(text, profile)
    if profile.output_format == "pairwise_verdict":
        return parse_pairwise(text)
    return parse_response(text if isinstance(text, str) else "")


def backend_answer(profile: JudgeProfile, text: object) -> tuple[ParsedResponse | None, dict[str, str] | None]:
    """What a backend running ``profile`` hands the evaluator for one answer: ``(parsed, preference)``.

    ``aigve_json``: ``(None, None)``; the evaluator parses the text itself, as it always has (the nine-aspect path
    is unchanged). ``videoscore2_lines``: the parsed scores under the profile's keys. ``pairwise_verdict``: a
    :class:`ParsedResponse` with no scores (only the flags) and the verdict's preference."""
    if profile.output_format == "aigve_json":
        return None, None
    answer = parse_answer(profile, text)
    if isinstance(answer, PairwiseVerdict):
        return ParsedResponse(scores={}, comments={}, flags=list(answer.flags)), dict(answer.preference)
    return answer, None


def judged_record(profile: JudgeProfile) -> dict[str, Any]:
    """What a backend's ``describe()`` adds for ``profile``'s answer (read by the evaluator into each record):
    nothing for the nine aspects; else ``judged_aspects`` (the profile's keys; none for a pairwise judge) and
    ``aspect_set`` (``{"name", "keys", "scale"}``) for a scoring profile with its own aspects."""
    if profile.output_format == "aigve_json":
        return {}
    if profile.videos == 2:
        return {"judged_aspects": [], "videos_per_item": 2}
    aspects = profile.aspect_set
    return {"judged_aspects": list(aspects.keys),
            "aspect_set": {"name": aspects.name, "keys": list(aspects.keys),
                           "scale": [aspects.score_min, aspects.score_max]}}


def answer_record(profile: JudgeProfile, text: object) -> dict[str, Any]:
    """The record fields one answer of ``profile`` gives (what the benchmark harness stores per item).

    Scoring profiles: ``{"profile", "profile_sha256", "aspects": [keys], "scale": [min, max], "scores": {key:
    int | None}, "comments": {key: str | None}, "parse_flags": [...]}`` with the profile's aspect keys
    (VideoScore2: ``visual_quality``, ``text_alignment``, ``physical_consistency`` on [1, 5]).
    Pairwise profiles: ``{"profile", "profile_sha256", "preference": {"overall": "A" | "B" | "same"},
    "parse_flags": [...]}`` ("A" = the first video of the pair, "Video 1" in the prompt).
    """
    head: dict[str, Any] = {"profile": profile.name, "profile_sha256": profile.content_sha256()}
    parsed = parse_answer(profile, text)
    if isinstance(parsed, PairwiseVerdict):
        return {**head, "preference": dict(parsed.preference), "parse_flags": list(parsed.flags)}
    aspects = profile.aspect_set
    return {**head, "aspects": list(aspects.keys), "scale": [aspects.score_min, aspects.score_max],
            "scores": {k: parsed.scores.get(k) for k in aspects.keys},
            "comments": {k: parsed.comments.get(k) for k in aspects.keys}, "parse_flags": list(parsed.flags)}
