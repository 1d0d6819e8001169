"""Report-side names for :mod:`aigve.core.provenance` (kept so existing importers keep working).

Which score files are not real evaluations is read from each record's ``backend.provenance`` (stamped where
the judge or checkpoint was built), never guessed from a model id; reports print the disclaimer for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aigve.core.provenance import LEGACY_TINY_MARKER, banner, of_backend

#: The marker file of tiny test checkpoints from before the provenance stamp (still read).
TINY_MARKER = LEGACY_TINY_MARKER
FAKE_BACKENDS = ("fake",)


def backend_problem(backend: Any) -> str | None:
    """Why the scores of one record's ``backend`` description are not an evaluation, or None."""
    found = of_backend(backend)
    return None if found.is_real else found.reason


def console_note(problem: str) -> str:
    """The line command-line tools print (on stderr) after a run whose scores are placeholders."""
    return f"NOTE: {banner(problem)}"


def disclaimer_for(backends: Iterable[Any]) -> str | None:
    """One disclaimer line for a score file whose records came (at least partly) from placeholder backends."""
    problems: list[str] = []
    cache: dict[str, str | None] = {}
    for backend in backends:
        key = json.dumps(backend, sort_keys=True, default=str)
        if key not in cache:
            cache[key] = backend_problem(backend)
        if cache[key] and cache[key] not in problems:
            problems.append(cache[key])
    if not problems:
        return None
    return f"{banner('; '.join(problems))} Agreement figures below only exercise the pipeline."
