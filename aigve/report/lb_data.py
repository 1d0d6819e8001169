"""Leaderboard inputs: result files -> one flat list of scored videos, each tagged with its generator.

The generator of a record is, in order: the ``NAME`` of a ``NAME=results.jsonl`` argument (one file per
generator, as ``aigve report --scores``); ``record["meta"][by]`` (manifest columns kept by ``aigve score``);
``record[by]``; else the file's default name. The prompt is the record's ``prompt`` (the cluster of the
bootstrap); a record without one is its own cluster.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.aspects import ASPECT_KEYS
from aigve.errors import ConfigError, InputError

SCORE_KINDS = ("auto", "expected", "integer")


@dataclass(frozen=True)
class Item:
    """One video's result. ``scores``: integer (headline) scores; ``expected``: continuous expected scores
    (digit probabilities) where the backend gave them; both canonical key -> float, only scored aspects."""

    id: str
    generator: str
    prompt: str
    video: str | None
    source: str
    scores: dict[str, float] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def _generator_of(rec: dict[str, Any], by: str) -> str | None:
    meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
    for source in (meta, rec, rec.get("extra") if isinstance(rec.get("extra"), dict) else {}):
        value = source.get(by)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _from_jsonl(path: Path, shown: str, name: str | None, default: str, by: str) -> list[Item]:
    """Records as :mod:`aigve.report.inputs` reads them (aigve results, or raw model answers, parsed), plus
    the generator and prompt of each."""
    from aigve.report.inputs import _jsonl_record
    from aigve.results import iter_records

    items, failures = [], [0]
    for row, rec in enumerate(iter_records(path), 1):
        if not isinstance(rec, dict):
            raise InputError(path, "expected a JSON object", row=row)
        r = _jsonl_record(rec, path, row, failures)
        prompt = str(rec.get("prompt") or "").strip() or f"(no prompt: {r.id})"
        items.append(Item(r.id, name or _generator_of(rec, by) or default, prompt, r.video, shown,
                          dict(r.scores), dict(r.expected), dict(r.comments), r.error))
    return items


def _from_csv(path: Path, shown: str, name: str | None, default: str, by: str) -> list[Item]:
    from aigve.report.inputs import load_scores

    items = []
    for r in load_scores(path).records:
        gen = name or (str(r.extra[by]).strip() if str(r.extra.get(by) or "").strip() else default)
        prompt = str(r.extra.get("prompt") or "").strip() or f"(no prompt: {r.id})"
        items.append(Item(r.id, gen, prompt, r.video, shown, dict(r.scores), {}, dict(r.comments), r.error))
    return items


def load_items(specs: Sequence[str | os.PathLike], *, by: str = "generator") -> list[Item]:
    """Every record of every ``[NAME=]PATH`` spec (JSONL results or CSV with aspect columns), in file order.
    Raises InputError naming the file for a missing or unreadable one, and for an id repeated within a
    generator (resumed failures aside: the later record wins)."""
    from aigve.report.inputs import default_names, parse_system_arg

    parsed = [parse_system_arg(str(s)) for s in specs]
    if not parsed:
        raise ConfigError("results", [], "give at least one results file")
    defaults = default_names([p for _, p in parsed])
    seen: dict[tuple[str, str], Item] = {}
    for (name, path), default in zip(parsed, defaults, strict=True):
        if not path.is_file():
            raise InputError(path, "results file not found")
        reader = _from_csv if path.suffix.lower() == ".csv" else _from_jsonl
        for item in reader(path, str(path), name, default, by):
            key = (item.generator, item.id)
            prev = seen.get(key)
            if prev is not None and prev.error is None:
                raise InputError(path, f"duplicate id {item.id!r} for generator {item.generator!r}; "
                                       "each video must appear once per generator")
            seen[key] = item
    if not seen:
        raise InputError(Path(str(specs[0])), "no records found")
    return list(seen.values())


def choose_score_kind(items: Sequence[Item], kind: str = "auto") -> str:
    """``expected`` when every scored aspect of every successful record has an expected score (auto), else
    ``integer``; ``expected`` asked for explicitly but missing somewhere is a ConfigError."""
    if kind not in SCORE_KINDS:
        raise ConfigError("score_kind", kind, f"use one of {', '.join(SCORE_KINDS)}")
    if kind == "integer":
        return kind
    ok = [i for i in items if i.error is None and i.scores]
    complete = bool(ok) and all(set(i.scores) <= set(i.expected) for i in ok)
    if kind == "expected" and not complete:
        missing = sum(not set(i.scores) <= set(i.expected) for i in ok)
        raise ConfigError("score_kind", kind, f"{missing} scored record(s) have no expected scores (digit "
                                              "probabilities); use integer or auto")
    return "expected" if complete else "integer"


def values_of(item: Item, kind: str) -> dict[str, float]:
    """The scores ranked on: expected scores or integer scores (see :func:`choose_score_kind`)."""
    return item.expected if kind == "expected" else item.scores


def shared_aspects(items: Sequence[Item], generators: Sequence[str]) -> list[str]:
    """Aspects (in aspect order) that every generator has at least one score for."""
    have = {g: set() for g in generators}
    for i in items:
        have[i.generator].update(i.scores)
    return [k for k in ASPECT_KEYS if all(k in have[g] for g in generators)]
