"""Rules refiner (templates keyed by aspect), LLM answer extraction/validation, LLM refiner fallback."""

from __future__ import annotations

import pytest

from aigve.aspects import ASPECT_KEYS
from aigve.errors import ConfigError
from aigve.refine.intent import preserves_intent
from aigve.refine.refiners import (
    TEMPLATES,
    LLMRefiner,
    RulesRefiner,
    build_messages,
    check_templates,
    extract_prompt,
    rejection_reason,
)
from aigve.refine.roles import Critique, Problem, Refiner

ORIGINAL = "a red ball bouncing on a wooden floor"


def critique(*aspects: str) -> Critique:
    problems = tuple(Problem(a, i, f"{a} is weak", f"{a} scored {i}/5", i) for i, a in enumerate(aspects))
    return Critique(problems, 2.0, "meh")


def test_templates_are_keyed_by_the_aspects_module():
    assert set(TEMPLATES) == set(ASPECT_KEYS)
    assert check_templates({"element_presentence": ["x"]}) == {"element_presence": ("x",)}  # released spelling
    with pytest.raises(ConfigError, match="aspect"):
        check_templates({"beauty": ["x"]})
    with pytest.raises(ConfigError):
        RulesRefiner(templates={"dynamic": "not a list"})


def test_rules_fix_the_weakest_aspects_first_and_keep_the_users_words():
    refiner = RulesRefiner(max_fixes=2)
    assert isinstance(refiner, Refiner)
    out = refiner.refine(ORIGINAL, ORIGINAL, critique("consistency", "technical_quality", "dynamic"))
    assert out.prompt == f"{ORIGINAL}, smooth, stable footage, sharp focus, high detail"
    assert out.addressed == ["consistency", "technical_quality"] and out.source == "rules"
    assert out.prompt.startswith(ORIGINAL) and preserves_intent(ORIGINAL, out.prompt)


def test_rules_escalate_when_an_aspect_stays_weak_and_report_exhaustion():
    refiner = RulesRefiner(max_fixes=1)
    prompt = ORIGINAL
    seen = []
    for _ in range(len(TEMPLATES["consistency"])):
        prompt = refiner.refine(ORIGINAL, prompt, critique("consistency")).prompt
        seen.append(prompt)
    assert len(set(seen)) == 3 and all(p in prompt for p in TEMPLATES["consistency"])
    done = refiner.refine(ORIGINAL, prompt, critique("consistency"))
    assert done.prompt == prompt and done.addressed == [] and "already" in done.notes[0]


def test_rules_fill_actions_and_restart_from_the_original_when_intent_was_lost():
    out = RulesRefiner().refine(ORIGINAL, ORIGINAL, critique("action_quality"))
    assert out.prompt.endswith("natural, fluid bouncing motion")
    lost = RulesRefiner().refine(ORIGINAL, "a cinematic shot of something", critique("dynamic"))
    assert lost.prompt.startswith(ORIGINAL) and "restarting" in lost.notes[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("<prompt>a red ball bouncing, sharp</prompt>", "a red ball bouncing, sharp"),
    ("Sure! Here it is:\n<PROMPT>\n  \"a red ball\"  \n</PROMPT> hope it helps", "a red ball"),
    ("<think>plan...</think>Refined prompt: a red ball, smooth", "a red ball, smooth"),
    ("```\n**a red ball bouncing**\n```", "a red ball bouncing"),
    ("<prompt>unclosed answer", "unclosed answer"),
    ("", ""),
])
def test_extract_prompt(text, expected):
    assert extract_prompt(text) == expected


def test_rejection_reasons():
    current = ORIGINAL + ", smooth"
    assert rejection_reason(ORIGINAL + ", sharp focus, high detail", ORIGINAL, current) is None
    assert rejection_reason("", ORIGINAL, current) == "empty answer"
    assert "too short" in rejection_reason("red ball", ORIGINAL, current)
    assert "garbage" in rejection_reason("ĠĠ ##@@ 12 ; ]] ball red bouncing wooden floor ?? %%", ORIGINAL, current)
    assert "drops" in rejection_reason("a blue ball bouncing on a wooden floor, sharp", ORIGINAL, current)
    assert rejection_reason(current, ORIGINAL, current) == "unchanged prompt"
    assert "too long" in rejection_reason(ORIGINAL + " very" * 200, ORIGINAL, current)


class StubClient:
    def __init__(self, answer: str | Exception):
        self.answer, self.calls = answer, []

    def complete(self, messages):
        self.calls.append(messages)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_llm_refiner_accepts_a_good_answer():
    client = StubClient("<prompt>a red ball bouncing on a wooden floor, steady camera, crisp detail</prompt>")
    out = LLMRefiner(client=client).refine(ORIGINAL, ORIGINAL, critique("consistency", "technical_quality"))
    assert out.source == "llm" and out.prompt.endswith("steady camera, crisp detail")
    assert out.addressed == ["consistency", "technical_quality"]
    system, user = client.calls[0]
    assert system["role"] == "system" and "<prompt>" in system["content"]
    assert ORIGINAL in user["content"] and "consistency scored 0/5" in user["content"]


@pytest.mark.parametrize(("answer", "reason"), [
    ("<prompt>a blue cube sliding on ice, sharp</prompt>", "drops the user's subjects/actions"),
    ("", "empty answer"),
    ("ĠĠ ##@@ 12 ;; ]] %% ĠĠ", "garbage"),
    (RuntimeError("model exploded"), "llm call failed: RuntimeError: model exploded"),
])
def test_llm_refiner_falls_back_to_rules(answer, reason):
    out = LLMRefiner(client=StubClient(answer)).refine(ORIGINAL, ORIGINAL, critique("consistency"))
    assert out.source == "llm->rules"
    assert out.prompt == f"{ORIGINAL}, smooth, stable footage"
    assert reason in out.notes[0]


def test_llm_refiner_needs_a_source():
    with pytest.raises(ConfigError, match="refiner_model"):
        LLMRefiner()


def test_build_messages_lists_problems_and_summary():
    messages = build_messages(ORIGINAL, ORIGINAL + ", x", critique("dynamic", "physics"))
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "- dynamic scored 0/5" in messages[1]["content"] and "Overall judgement: meh" in messages[1]["content"]
