"""Critic: nine scores + comments -> problems, weakest first; objective."""

from __future__ import annotations

import pytest

from aigve.aspects import ASPECT_KEYS
from aigve.errors import ConfigError
from aigve.refine.critic import ScoreCritic, check_objective, objective
from aigve.results import EvaluationResult


def result(scores: dict, comments: dict | None = None) -> EvaluationResult:
    full = {k: scores.get(k) for k in ASPECT_KEYS}
    texts = {k: (comments or {}).get(k) for k in ASPECT_KEYS}
    return EvaluationResult(id="v", video="v.mp4", prompt="p", scores=full, comments=texts)


def test_objective_hand_values():
    assert objective({"dynamic": 4, "consistency": 2, "physics": None}) == 3.0
    assert objective({"dynamic": 4, "overall": 1}, "overall") == 1
    assert objective({k: None for k in ASPECT_KEYS}) is None
    assert check_objective("Overall") == "overall"
    with pytest.raises(ConfigError, match="objective"):
        check_objective("beauty")


def test_problems_weakest_first_skipping_none_and_perfect_scores():
    r = result({"technical_quality": 3, "dynamic": 5, "consistency": 0, "physics": None, "element_quality": 3,
                "overall": 2}, {"consistency": "strong flicker", "overall": "poor video"})
    critique = ScoreCritic().critique(r, "a red ball bouncing on a wooden floor")
    assert critique.aspects == ["consistency", "technical_quality", "element_quality"]  # ties keep ASPECTS order
    first = critique.problems[0]
    assert (first.score, first.comment, first.priority) == (0, "strong flicker", 0)
    assert "strong flicker" in first.description and "0/5" in first.description
    assert "needs better" in critique.problems[1].description  # no comment: falls back to the definition
    assert critique.summary == "poor video"
    assert critique.objective == pytest.approx((3 + 5 + 0 + 3 + 2) / 5)


def test_threshold_and_zero_means_absent():
    r = result({"technical_quality": 4, "dynamic": 2, "action_presence": 0, "action_quality": 0})
    no_action = ScoreCritic().critique(r, "a red ball on a wooden floor")
    assert no_action.aspects == ["dynamic", "technical_quality"]  # 0 = "no action asked for": not a problem
    with_action = ScoreCritic(threshold=3).critique(r, "a red ball bouncing on a wooden floor")
    assert with_action.aspects == ["action_presence", "action_quality", "dynamic"]
    with pytest.raises(ConfigError):
        ScoreCritic(threshold=0)
