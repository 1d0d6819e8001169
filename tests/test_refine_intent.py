"""The user's intent (subjects, actions) and the check that a rewrite keeps it."""

from __future__ import annotations

import pytest

from aigve.refine.intent import extract_intent, missing_terms, preserves_intent, stem


@pytest.mark.parametrize(("word", "expected"), [
    ("bouncing", "bounc"), ("bounces", "bounc"), ("bounce", "bounc"), ("bounced", "bounc"),
    ("running", "run"), ("runs", "run"), ("ball", "ball"), ("balls", "ball"), ("red", "red"),
])
def test_stem_hand_values(word, expected):
    assert stem(word) == expected


def test_extract_intent_splits_subjects_and_actions():
    intent = extract_intent("A red ball bouncing on a wooden floor")
    assert intent.subjects == ("red", "ball", "wooden", "floor")
    assert intent.actions == ("bouncing",)
    assert extract_intent("a dog runs past the building in the morning").actions == ("runs",)
    assert "building" in extract_intent("a dog runs past the building").subjects  # -ing noun, not an action


def test_appending_keeps_intent_and_light_rephrasing_is_accepted():
    original = "a red ball bouncing on a wooden floor"
    assert preserves_intent(original, original + ", smooth, stable footage")
    assert preserves_intent(original, "A red ball bounces across a wood floor, sharp focus")


@pytest.mark.parametrize(("candidate", "lost"), [
    ("a blue ball bouncing on a wooden floor", ["red"]),
    ("a red cube bouncing on a wooden floor", ["ball"]),
    ("a red ball resting on a wooden floor", ["bouncing"]),
    ("a cinematic shot, high detail", ["red", "ball", "wooden", "floor", "bouncing"]),
])
def test_dropped_subjects_or_actions_are_reported(candidate, lost):
    assert missing_terms("a red ball bouncing on a wooden floor", candidate) == lost
    assert not preserves_intent("a red ball bouncing on a wooden floor", candidate)
