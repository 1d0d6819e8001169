"""Refiners: rewrite the generation prompt from a critique, keeping the user's subjects and actions.

``rules`` appends fixed phrases keyed by aspect (the keys are checked against :mod:`aigve.aspects`);
``llm`` asks a language model (HF causal LM, a Qwen2.5-VL used as a text model, or an OpenAI-compatible
endpoint) and treats its answer as untrusted: the prompt is extracted, validated, and replaced by the rules
refiner's rewrite when it is empty, garbage, unchanged, or drops a subject or action of the user's prompt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aigve.aspects import ASPECT_KEYS, canonical_key
from aigve.errors import ConfigError
from aigve.refine.intent import extract_intent, missing_terms, words
from aigve.refine.roles import Critique, Refinement

log = logging.getLogger(__name__)

# Escalating phrases per aspect: a round adds the first phrase not yet in the prompt, so an aspect that stays
# weak gets a stronger request next round. ``{actions}`` is filled from the user's prompt.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "technical_quality": ("sharp focus, high detail", "crisp high resolution footage, clean image",
                          "professional 4k cinematography"),
    "dynamic": ("dynamic motion, moving", "camera pan following the action", "fast energetic movement"),
    "consistency": ("smooth, stable footage", "steady camera, consistent lighting", "temporally coherent frames"),
    "physics": ("physically realistic motion with natural gravity", "realistic contact, weight and collisions"),
    "element_presence": ("every described element clearly visible in frame", "all objects fully shown"),
    "element_quality": ("realistic, well-formed and detailed objects", "lifelike textures and materials"),
    "action_presence": ("{actions} clearly happening throughout the video", "the described action shown in full"),
    "action_quality": ("natural, fluid {actions} motion", "smooth continuous movement"),
    "overall": ("high quality video",),
}


def check_templates(templates: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Key ``templates`` by canonical aspect key (any accepted spelling in); unknown aspects raise ConfigError."""
    out: dict[str, tuple[str, ...]] = {}
    for name, phrases in templates.items():
        key = canonical_key(name)
        if key is None:
            raise ConfigError(f"templates[{name!r}]", name, f"key must be an aspect: {', '.join(ASPECT_KEYS)}")
        if isinstance(phrases, str) or not all(isinstance(p, str) and p.strip() for p in phrases):
            raise ConfigError(f"templates[{name!r}]", phrases, "give a list of non-empty phrases")
        out[key] = tuple(phrases)
    return out


def _append(prompt: str, phrase: str) -> str:
    return f"{prompt.rstrip(' .,;')}, {phrase}"


class RulesRefiner:
    """Appends up to ``max_fixes`` template phrases per round, for the weakest aspects first.

    The user's words are never removed, so subjects and actions survive by construction (and are re-checked:
    a ``current`` prompt that lost them, e.g. from an earlier LLM rewrite, restarts from the original).
    ``templates`` extends or overrides :data:`TEMPLATES` (keys: any aspect spelling).
    """

    name = "rules"

    def __init__(self, max_fixes: int = 2, templates: Mapping[str, Sequence[str]] | None = None):
        if not isinstance(max_fixes, int) or max_fixes < 1:
            raise ConfigError("max_fixes", max_fixes, "must be a positive integer")
        self.max_fixes = max_fixes
        self.templates = {**TEMPLATES, **check_templates(templates or {})}

    def refine(self, original: str, current: str, critique: Critique) -> Refinement:
        notes: list[str] = []
        prompt = current
        if missing_terms(original, current):
            notes.append(f"current prompt lost {missing_terms(original, current)}; restarting from the original")
            prompt = original
        actions = " and ".join(extract_intent(original).actions) or "the action"
        addressed: list[str] = []
        for problem in critique.problems:
            if len(addressed) >= self.max_fixes:
                break
            lowered = prompt.lower()
            for template in self.templates.get(problem.aspect, ()):
                phrase = template.format(actions=actions)
                if phrase.lower() not in lowered:
                    prompt = _append(prompt, phrase)
                    addressed.append(problem.aspect)
                    break
        if critique.problems and not addressed:
            notes.append("every template for the listed problems is already in the prompt")
        return Refinement(prompt, self.name, addressed, notes)


SYSTEM_MESSAGE = (
    "You improve prompts for a text-to-video generator. Rewrite the prompt so the next video fixes the listed "
    "problems. Keep every subject, object, colour and action of the user's prompt; add concrete visual "
    "details only. Answer with the new prompt only, between <prompt> and </prompt>."
)


def build_messages(original: str, current: str, critique: Critique, max_problems: int = 4) -> list[dict[str, str]]:
    """Chat messages asking for a rewrite: system role + one user turn listing the weakest problems."""
    lines = [f"User's prompt: {original}", f"Prompt used last round: {current}", "Problems, worst first:"]
    lines += [f"- {p.description}" for p in critique.problems[:max_problems]] or ["- none listed"]
    if critique.summary:
        lines.append(f"Overall judgement: {critique.summary}")
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": "\n".join(lines)}]


_TAGGED = re.compile(r"<prompt>(.*?)(?:</prompt>|$)", re.IGNORECASE | re.DOTALL)
_LABELLED = re.compile(r"^\s*(?:refined|new|improved|rewritten)?\s*prompt\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def extract_prompt(text: str) -> str:
    """Pull the prompt out of a model answer: ``<prompt>...</prompt>``, else a ``Prompt:`` line, else the
    first non-empty line; quotes, markdown and extra spaces are stripped. Returns "" when nothing is left."""
    text = re.sub(r"<think>.*?(?:</think>|$)", "", text or "", flags=re.DOTALL | re.IGNORECASE)
    text = re.sub(r"```[a-z]*", "", text)
    tagged = _TAGGED.search(text)
    labelled = _LABELLED.search(text)
    if tagged:
        found = tagged.group(1)
    elif labelled:
        found = labelled.group(1)
    else:
        found = next((line for line in text.splitlines() if line.strip()), "")
    found = re.sub(r"\s+", " ", found).strip().strip("*_`#>-\"' ").strip()
    return found


def rejection_reason(candidate: str, original: str, current: str, max_chars: int = 600) -> str | None:
    """Why an extracted LLM prompt is unusable, or None when it is acceptable."""
    if not candidate:
        return "empty answer"
    tokens = candidate.split()
    if len(tokens) < 3:
        return f"too short ({len(tokens)} words)"
    if len(candidate) > max_chars:
        return f"too long ({len(candidate)} > {max_chars} characters)"
    wordlike = sum(1 for t in tokens if re.fullmatch(r"[(\"']?[A-Za-z][A-Za-z'-]*[)\"',.;:!?]*", t))
    if wordlike / len(tokens) < 0.8 or len(words(candidate)) < 3:
        return "garbage (too few real words)"
    lost = missing_terms(original, candidate)
    if lost:
        return f"drops the user's subjects/actions: {', '.join(lost)}"
    if candidate.strip().lower() == current.strip().lower():
        return "unchanged prompt"
    return None


class LLMRefiner:
    """Asks a language model for the rewrite; falls back to :class:`RulesRefiner` when the answer is unusable.

    Exactly one source: ``client`` (any object with ``complete(messages) -> str``, e.g.
    :meth:`aigve.refine.chat.VisionLMChat.from_evaluator`), ``endpoint`` (an OpenAI-compatible base URL such
    as ``http://127.0.0.1:8000/v1``; ``model`` then names the served model, or is asked from ``/models``), or
    ``model`` (HF model id or folder, loaded lazily with transformers). ``client_options`` go to the client.
    """

    name = "llm"

    def __init__(self, model: str | None = None, *, endpoint: str | None = None, client: Any = None,
                 max_fixes: int = 2, fallback: RulesRefiner | None = None, **client_options: Any):
        if client is None and endpoint is None and not model:
            raise ConfigError("refiner model", model, "give `refiner_model`: an HF model id or folder, an "
                              "OpenAI-compatible URL (http://host:port/v1), or 'evaluator'")
        self.model, self.endpoint, self._client = model, endpoint, client
        self.client_options = client_options
        self.max_fixes = max_fixes
        self.fallback = fallback or RulesRefiner(max_fixes=max_fixes)

    @property
    def client(self) -> Any:
        if self._client is None:
            from aigve.refine import chat

            if self.endpoint is not None:
                self._client = chat.OpenAIChat(self.endpoint, model=self.model, **self.client_options)
            else:
                self._client = chat.load_local_chat(self.model, **self.client_options)
        return self._client

    def refine(self, original: str, current: str, critique: Critique) -> Refinement:
        messages = build_messages(original, current, critique)
        try:
            raw = self.client.complete(messages)
        except Exception as exc:  # a dead endpoint or broken model must not end the run: rules take over
            log.warning("LLM refiner failed (%s); using the rules refiner", exc)
            return self._fall_back(original, current, critique, f"llm call failed: {type(exc).__name__}: {exc}")
        candidate = extract_prompt(raw)
        reason = rejection_reason(candidate, original, current)
        if reason is not None:
            log.info("LLM answer rejected (%s); using the rules refiner", reason)
            return self._fall_back(original, current, critique, f"llm answer rejected: {reason}", raw)
        addressed = critique.aspects[: self.max_fixes]
        return Refinement(candidate, "llm", addressed, [f"raw: {raw[:300]}"])

    def _fall_back(self, original: str, current: str, critique: Critique, reason: str,
                   raw: str | None = None) -> Refinement:
        result = self.fallback.refine(original, current, critique)
        notes = [reason] + ([f"raw: {raw[:300]}"] if raw is not None else []) + result.notes
        return Refinement(result.prompt, f"{self.name}->{result.source}", result.addressed, notes)
