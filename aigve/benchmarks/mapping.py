"""The judge -> benchmark dimension mapping, kept as data (``data/mappings.json``), and reading a judge's
answer on a benchmark dimension out of a results record.

A pointwise judge's value on a dimension is the mean (or, written ``{"sum": [...]}``, the sum) of the mapped
aspects' scores, or (``{"sum_of_dimensions": [...]}``) the sum of its values on other dimensions; None when any
is missing or none is mapped. A pairwise judge's answer is a record field, ``record["preference"][dimension]`` in
{"A", "B", "same"}, keyed by the benchmark's own dimension name (``VQ``) or the mapped one
(``visual_quality``); the record's ``id`` is the pair's id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from aigve.errors import ConfigError

PREFERENCE = {"a": 1, "b": -1, "same": 0, "tie": 0}


@lru_cache(maxsize=1)
def mappings() -> dict[str, Any]:
    """All entries of data/mappings.json (without its ``_doc``)."""
    text = resources.files("aigve.benchmarks").joinpath("data/mappings.json").read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def mapping_for(record: Mapping[str, Any] | None, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """``(entry name, entry)``: ``name`` when given (unknown: "did you mean"), else the entry listing the
    record's profile, else the default entry."""
    table = mappings()
    if name is not None:
        if name not in table:
            from aigve.core.validate import choice

            choice("mapping", name, tuple(table))
        return name, table[name]
    profile = ((record or {}).get("backend") or {}).get("profile")
    for key, entry in table.items():
        if profile in entry.get("profiles", ()) and _has_field(record, entry.get("score_field", "scores")):
            return key, entry
    key = next(k for k, e in table.items() if e.get("default"))
    return key, table[key]


def _has_field(record: Mapping[str, Any] | None, field: str) -> bool:
    """Whether ``record`` holds some value in its ``field`` (an entry reading soft scores needs a run that has them)."""
    return field == "scores" or any(v is not None for v in ((record or {}).get(field) or {}).values())


def judge_value(record: Mapping[str, Any], dimension: str, entry: Mapping[str, Any]) -> float | None:
    """The judge's score on ``dimension`` (a mapped name, or an aspect key scored directly) read from the record's
    ``entry["score_field"]`` (default ``scores``; ``expected_scores`` for soft scores); None when unscored."""
    if record.get("error"):
        return None
    scores = record.get(entry.get("score_field", "scores")) or {}
    spec = entry["dimensions"].get(dimension, [dimension])
    if isinstance(spec, Mapping) and "sum_of_dimensions" in spec:  # e.g. overall = v + t + p of means
        parts = [judge_value(record, d, entry) for d in spec["sum_of_dimensions"] if d != dimension]
        return None if not parts or any(v is None for v in parts) else float(sum(parts))
    summed = isinstance(spec, Mapping)
    aspects = spec["sum"] if summed else spec
    values = [scores.get(a) for a in aspects]
    if not values or any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values):
        return None  # an empty list: the mapping reads nothing for this dimension (undefined)
    total = float(sum(values))
    return total if summed else total / len(values)


def judge_preference(record: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    """A pairwise judge's label (1 A, -1 B, 0 same) from ``record["preference"]`` under any of ``names``."""
    prefs = record.get("preference")
    if not isinstance(prefs, Mapping) or record.get("error"):
        return None
    for n in names:
        if n in prefs:
            text = str(prefs[n]).strip().lower()
            if text not in PREFERENCE:
                raise ConfigError(f"preference[{n}]", prefs[n], "must be A, B or same")
            return PREFERENCE[text]
    return None
