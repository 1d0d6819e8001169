"""Which score files are not real evaluations (fake backend, tiny random-weight test models).

Reports print a disclaimer for them, so placeholder numbers are never read as a judge's agreement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: File written into tiny test checkpoints by :mod:`aigve.testing.tiny` (kept literal: no torch import).
TINY_MARKER = "aigve_tiny.json"
FAKE_BACKENDS = ("fake",)


def _is_tiny_model(model: Any) -> bool:
    """True when ``model`` names a local folder built by aigve.testing.tiny (marker file or config flag)."""
    if not isinstance(model, str) or not model:
        return False
    if "aigve_tiny" in model or "tiny-qwen" in model.lower():
        return True
    folder = Path(model)
    try:
        if (folder / TINY_MARKER).is_file():
            return True
        config = folder / "config.json"
        return config.is_file() and bool(json.loads(config.read_text(encoding="utf-8")).get("aigve_tiny"))
    except (OSError, ValueError):
        return False


def backend_problem(backend: Any) -> str | None:
    """Why the scores of one record's ``backend`` description are not an evaluation, or None."""
    if not isinstance(backend, dict):
        return f"the {backend} backend" if backend in FAKE_BACKENDS else None
    name = str(backend.get("name") or "")
    if name in FAKE_BACKENDS:
        return f"the '{name}' backend (deterministic placeholder scores)"
    if backend.get("aigve_tiny") or backend.get("tiny"):
        return "a tiny random-weight test model"
    for key in ("model", "model_path", "adapter"):
        if _is_tiny_model(backend.get(key)):
            return f"a tiny random-weight test model ({backend[key]})"
    note = str(backend.get("note") or backend.get("warning") or "")
    if "not an evaluation" in note:
        return note
    return None


def console_note(problem: str) -> str:
    """The line command-line tools print (on stderr) after a run whose scores are placeholders."""
    return f"NOTE: NOT A REAL EVALUATION: these scores come from {problem}."


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
    return ("NOT A REAL EVALUATION: scores come from " + "; ".join(problems)
            + ". Agreement figures below only exercise the pipeline.")
