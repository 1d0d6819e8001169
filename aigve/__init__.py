"""aigve: nine-aspect scores and comments for AI-generated video.

Public API (imported lazily so ``import aigve`` stays light)::

    import aigve
    ev = aigve.load_evaluator(backend="macs", model="xiaoliux/AIGVE-MACS")
    result = ev.evaluate("clip.mp4", "a red ball bouncing on a wooden floor")
    result.scores["physics"], result.comments["physics"]
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_evaluator": "aigve.evaluator",
    "Evaluator": "aigve.evaluator",
    "parse_response": "aigve.parsing",
    "ParsedResponse": "aigve.parsing",
    "EvaluationResult": "aigve.results",
    "SamplingConfig": "aigve.config",
    "GenerationConfig": "aigve.config",
    "ASPECTS": "aigve.aspects",
    "ASPECT_KEYS": "aigve.aspects",
    "probe": "aigve.video",
    "list_backends": "aigve.evaluator",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aigve' has no attribute {name!r}")
