"""The critic: nine scores and comments -> a prioritised list of concrete problems, weakest aspects first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aigve.aspects import ASPECT_KEYS, BY_KEY, SCORE_MAX, canonical_key
from aigve.errors import ConfigError
from aigve.refine.intent import extract_intent
from aigve.refine.roles import Critique, Problem

if TYPE_CHECKING:
    from aigve.results import EvaluationResult


def objective(scores: Mapping[str, int | None], aspects: Sequence[str] | str = "mean") -> float | None:
    """The round's scalar score: mean of the non-None scores over ``aspects`` ("mean" = all nine), or one
    aspect's score when ``aspects`` names one. None when nothing was scored. Units: the 0-5 score scale.

    >>> objective({"dynamic": 4, "consistency": 2, "physics": None})
    3.0
    """
    if isinstance(aspects, str):
        aspects = ASPECT_KEYS if aspects == "mean" else (aspects,)
    values = [scores.get(k) for k in aspects]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def check_objective(name: str) -> str:
    """Validate an objective name: ``mean`` or an aspect spelling; returns ``mean`` or the canonical key."""
    if name == "mean":
        return name
    key = canonical_key(name)
    if key is None:
        raise ConfigError("objective", name, f"use 'mean' or one of {', '.join(ASPECT_KEYS)}")
    return key


class ScoreCritic:
    """Lists every scored aspect below ``threshold`` as a :class:`Problem`, lowest score first.

    Ties keep the order of :data:`aigve.aspects.ASPECTS`. Aspects scored None are skipped (the backend did not
    judge them). ``overall`` is left out of the problem list (it summarises the others and names no concrete
    fix) and its comment becomes the critique's summary. An action aspect scored 0 on a prompt without any
    action is skipped: AIGVE-Bench scores 0 there to mean "no action asked for" (``zero_means_absent``).
    """

    def __init__(self, threshold: int = SCORE_MAX, objective: str = "mean"):
        if not 0 < threshold <= SCORE_MAX:
            raise ConfigError("threshold", threshold, f"must be in 1..{SCORE_MAX}")
        self.threshold = threshold
        self.objective = check_objective(objective)

    def critique(self, result: EvaluationResult, prompt: str) -> Critique:
        scores = {k: result.scores.get(k) for k in ASPECT_KEYS}
        comments = result.comments or {}
        has_action = bool(extract_intent(prompt).actions)
        found: list[tuple[int, int, str]] = []
        for order, key in enumerate(ASPECT_KEYS):
            score = scores[key]
            if key == "overall" or score is None or score >= self.threshold:
                continue
            if score == 0 and BY_KEY[key].zero_means_absent and not has_action:
                continue
            found.append((score, order, key))
        problems = []
        for priority, (score, _, key) in enumerate(sorted(found)):
            aspect = BY_KEY[key]
            comment = (comments.get(key) or "").strip()
            description = f"{aspect.label} scored {score}/{aspect.score_max}: " + (
                comment or f"needs better {aspect.definition}")
            problems.append(Problem(key, score, comment, description, priority))
        summary = (comments.get("overall") or "").strip()
        return Critique(tuple(problems), objective(scores, self.objective), summary)
