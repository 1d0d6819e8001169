"""What the user asked for: the content words (subjects, their attributes, and actions) of a prompt.

A refiner may add words but must keep these; :func:`missing_terms` checks a rewrite. Matching is on crude
stems (``bouncing``/``bounces``/``bounce`` -> ``bounc``) plus prefixes (``wood`` ~ ``wooden``) so a light
rephrasing by an LLM still counts, while a dropped subject or action does not. A full lemmatiser (spaCy,
nltk data) would need downloads, which this project cannot rely on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STOPWORDS = frozenset("""
a an the and or but of on in at to into onto over under above below with without by for from as is are was were be
been being it its this that these those there here his her their our my your some any each every very too so than
then while during through across along around near next up down out off one two three video clip scene shot shows
showing shown of while who which whose where when
""".split())

# -ing words that name things, not actions.
_ING_NOUNS = frozenset("""
building ceiling clothing evening morning painting ring king thing string spring wing something nothing everything
lighting ceiling wedding pudding bedding sibling duckling awning railing carving icing stuffing setting
""".split())

# Action words that do not end in -ing (third person / base forms commonly seen in prompts).
_VERBS = frozenset("""
bounce bounces jump jumps run runs walk walks fly flies swim swims roll rolls spin spins fall falls drive drives
dance dances ride rides eat eats play plays float floats sail sails climb climbs throw throws kick kicks
""".split())

_WORD = re.compile(r"[a-z][a-z'-]*")


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters, inner hyphens/apostrophes)."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """Crude suffix stripping: ``bouncing``/``bounced``/``bounces``/``bounce`` -> ``bounc``; ``running`` -> ``run``."""
    w = word.lower().strip("'-")
    for suffix in ("ing", "ed", "es", "s", "e"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            w = w[: -len(suffix)]
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":  # runn -> run, but ball stays ball
        w = w[:-1]
    return w


def is_action(word: str) -> bool:
    w = word.lower()
    return w in _VERBS or (w.endswith("ing") and len(w) > 4 and w not in _ING_NOUNS)


@dataclass(frozen=True)
class Intent:
    """``subjects``: content words that are not actions (nouns and their attributes, e.g. ``red``, ``ball``);
    ``actions``: action words (``bouncing``). Both in prompt order, without duplicates."""

    subjects: tuple[str, ...]
    actions: tuple[str, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        return self.subjects + self.actions


def extract_intent(prompt: str) -> Intent:
    """The words of ``prompt`` a rewrite must keep."""
    subjects: list[str] = []
    actions: list[str] = []
    for w in words(prompt):
        if w in STOPWORDS or len(w) < 2:
            continue
        target = actions if is_action(w) else subjects
        if w not in target:
            target.append(w)
    return Intent(tuple(subjects), tuple(actions))


def _present(term: str, stems: set[str]) -> bool:
    s = stem(term)
    if s in stems:
        return True
    if len(s) < 4:
        return False
    return any(len(c) >= 4 and (c.startswith(s) or s.startswith(c)) for c in stems)


def missing_terms(original: str, candidate: str) -> list[str]:
    """Intent terms of ``original`` (subjects and actions) that ``candidate`` no longer contains."""
    stems = {stem(w) for w in words(candidate)}
    return [t for t in extract_intent(original).terms if not _present(t, stems)]


def preserves_intent(original: str, candidate: str) -> bool:
    """True when every subject and action of ``original`` survives in ``candidate``."""
    return not missing_terms(original, candidate)
