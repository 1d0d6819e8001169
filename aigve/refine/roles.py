"""The four roles of the refinement loop, as typing Protocols, and the records they pass.

One round: a :class:`Generator` turns a prompt and seed into a video file; an :class:`Evaluator` (any aigve
backend, via ``aigve.load_evaluator``) scores it on the nine aspects; a :class:`Critic` turns the scores and
comments into a prioritised list of :class:`Problem`; a :class:`Refiner` rewrites the generation prompt from that
critique while keeping the user's subjects and actions. :class:`aigve.refine.loop.Controller` drives the rounds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aigve.errors import AigveError

if TYPE_CHECKING:
    from aigve.results import EvaluationResult


class GenerationError(AigveError):
    """A generator could not produce a video for ``prompt`` (command failed, timed out, wrote nothing, ...)."""

    def __init__(self, generator: str, problem: str, fix: str = ""):
        self.generator, self.problem, self.fix = generator, problem, fix
        super().__init__(f"generator {generator!r}: {problem}" + (f"; {fix}" if fix else ""))


@runtime_checkable
class Generator(Protocol):
    """Text-to-video generator: ``generate(prompt, seed, out_path) -> path of the written video``.

    ``out_path`` is where the controller wants the file (``.mp4``); the returned path is authoritative.
    Raise :class:`GenerationError` (or any exception) on failure; the controller retries and records it.
    """

    name: str

    def generate(self, prompt: str, seed: int, out_path: Path) -> Path: ...

    def describe(self) -> dict[str, Any]:
        """Identity written into the trace (model id, template, sizes...)."""
        ...


@runtime_checkable
class Evaluator(Protocol):
    """What ``aigve.load_evaluator(backend=...)`` returns: ``evaluate(video_path, prompt) -> EvaluationResult``."""

    def evaluate(self, video: str | Path, prompt: str) -> EvaluationResult: ...


@dataclass(frozen=True)
class Problem:
    """One concrete weakness of a video. ``score`` 0-5 (lower is worse); ``comment`` is the evaluator's text."""

    aspect: str
    score: int
    comment: str
    description: str
    priority: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Critique:
    """The critic's answer: ``problems`` weakest first; ``objective`` the round's scalar score (None if unscored)."""

    problems: tuple[Problem, ...]
    objective: float | None
    summary: str = ""

    @property
    def aspects(self) -> list[str]:
        return [p.aspect for p in self.problems]

    def to_dict(self) -> dict[str, Any]:
        return {"problems": [p.to_dict() for p in self.problems], "objective": self.objective,
                "summary": self.summary}


@runtime_checkable
class Critic(Protocol):
    """Turns one evaluation (nine scores + comments) into a :class:`Critique`; None scores are skipped."""

    def critique(self, result: EvaluationResult, prompt: str) -> Critique: ...


@dataclass
class Refinement:
    """A rewritten generation prompt. ``source``: ``rules``, ``llm``, or ``llm->rules`` (LLM output rejected);
    ``addressed``: aspects the rewrite targets; ``notes``: why a fallback happened, raw LLM text, ..."""

    prompt: str
    source: str
    addressed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Refiner(Protocol):
    """Rewrites ``current`` (the last generation prompt) from ``critique``; ``original`` is the user's prompt,
    whose subjects and actions must survive (see :mod:`aigve.refine.intent`)."""

    name: str

    def refine(self, original: str, current: str, critique: Critique) -> Refinement: ...
