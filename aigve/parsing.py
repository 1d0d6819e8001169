"""Model text -> scores and comments. Model output is untrusted input: parsed, repaired, validated; never eval'd.

(Contract stub: ``parse_response`` is being implemented; see tests/test_parsing.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aigve.aspects import ASPECT_KEYS


@dataclass
class ParsedResponse:
    """Scores and comments keyed by canonical aspect key (all nine keys always present).

    ``scores[k]`` is an int in [0, 5] or None when the aspect is missing or unusable (never invented).
    ``flags``: machine-readable notes on what was repaired, e.g. ``"code_fence"``, ``"python_quotes"``,
    ``"trailing_comma"``, ``"truncated"``, ``"renamed:element_presentence->element_presence"``,
    ``"clamped:physics"``, ``"rounded:dynamic"``, ``"missing:overall"``, ``"bad_score:overall"``.
    """

    scores: dict[str, int | None] = field(default_factory=lambda: {k: None for k in ASPECT_KEYS})
    comments: dict[str, str | None] = field(default_factory=lambda: {k: None for k in ASPECT_KEYS})
    flags: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        """True when anything had to be repaired or is missing."""
        return bool(self.flags)

    @property
    def missing(self) -> list[str]:
        return [k for k in ASPECT_KEYS if self.scores.get(k) is None]

    def to_dict(self) -> dict[str, Any]:
        return {"scores": dict(self.scores), "comments": dict(self.comments), "flags": list(self.flags)}


def parse_response(text: str) -> ParsedResponse:
    """Parse one model answer. Raises ResponseParseError (carrying the raw text) if nothing is salvageable."""
    raise NotImplementedError
