"""Benchmark reports: agreement of model scores with human raters, comment quality, plots.

    from aigve.report import build_report
    report = build_report(["runs/a/results.jsonl", "b=other.csv"], "human.json", "runs/report-x", group_by="generator")
    report.metrics["agreement"]["a"]["physics"]["srcc"]  # {"value", "ci_low", "ci_high", "n", ...}

Modules: metrics (pure statistics), inputs (score files, join), comments (comment quality),
compute (metrics dict), plots (PNG), blocks/render (Markdown, HTML, JSON, CSV), build (orchestration).
"""

from __future__ import annotations

from typing import Any

_LAZY = {"build_report": "aigve.report.build", "Report": "aigve.report.build", "load_scores": "aigve.report.inputs",
         "agreement": "aigve.report.metrics", "paired_srcc_test": "aigve.report.metrics"}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aigve.report' has no attribute {name!r}")
