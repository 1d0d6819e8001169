"""What a benchmark loader returns: the videos to score and the human labels, as frozen values.

``Loaded.kind`` is ``"pairwise"`` (human preferences between two videos of one prompt: ``pairs``) or
``"pointwise"`` (human scores per video: ``points``). Dimensions are the benchmark's own column names
(``VQ``, ``visual_quality``, ``SA``, ...); ``Loaded.dimension_map`` says which judge dimension each one is read
from (see :mod:`aigve.benchmarks.mapping`).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.errors import InputError

#: human pairwise labels as published -> 1 (A preferred), -1 (B preferred), 0 (same)
PAIR_LABELS = {"a": 1, "b": -1, "same": 0, "tie": 0, "left": 1, "right": -1, "leftvote": 1, "rightvote": -1,
               "tievote": 0, "bothbad_vote": 0}


@dataclass(frozen=True)
class BenchVideo:
    """One video to score: ``id`` unique in the benchmark run, ``path`` absolute, ``prompt``."""

    id: str
    path: str
    prompt: str


@dataclass(frozen=True)
class PairTask:
    """One human comparison: ``a``/``b`` are video ids; ``labels``: dimension -> 1 / -1 / 0."""

    id: str
    a: str
    b: str
    labels: Mapping[str, int]


@dataclass(frozen=True)
class PointTask:
    """Human scores of one video: ``video`` id, ``human``: dimension -> score on the benchmark's scale."""

    video: str
    human: Mapping[str, float]


@dataclass(frozen=True)
class Loaded:
    """A benchmark read from disk. ``scale``: (low, high) of the human score scale (pointwise), else None;
    ``source``: the file read; ``notes``: what the loader assumed (e.g. an unverified layout)."""

    name: str
    kind: str
    videos: tuple[BenchVideo, ...]
    dimensions: tuple[str, ...]
    dimension_map: Mapping[str, str]
    source: str
    pairs: tuple[PairTask, ...] = ()
    points: tuple[PointTask, ...] = ()
    scale: tuple[int, int] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def find_file(folder: Path, names: Sequence[str], what: str) -> Path:
    """The first of ``names`` in ``folder``, else the only file with one of their suffixes; an InputError
    naming the folder and the expected file otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, f"benchmark folder not found (expected {what}; pass `data=DIR`)")
    for name in names:
        if (folder / name).is_file():
            return folder / name
    suffixes = {Path(n).suffix for n in names}
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in suffixes)
    if len(found) == 1:
        return found[0]
    raise InputError(folder, f"no {names[0]} here (expected {what}); download the benchmark as published into "
                             f"this folder or pass `data` as the folder that holds it")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, record) of a CSV (row 2 is the first data row), JSONL (line number) or JSON list
    (1-based position; ``{"data_list": [...]}`` too). Errors name the file and row."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":  # what the Hugging Face hub serves (e.g. GenAI-Bench's video_generation split)
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError, ImportError) as exc:
            raise InputError(path, f"cannot read the parquet file ({exc})") from None
        for n, rec in enumerate(frame.to_dict(orient="records"), 1):
            yield n, {str(k).strip(): v for k, v in rec.items()}
        return
    try:
        if suffix == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as fh:
                for n, rec in enumerate(csv.DictReader(fh), 2):
                    yield n, {(k or "").strip(): v for k, v in rec.items()}
            return
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "not a text file (expected CSV, JSON or JSONL)") from None
    if suffix == ".jsonl":
        from aigve.annotations import jsonl_objects

        yield from jsonl_objects(path, text)
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    items = data.get("data_list", data.get("data")) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InputError(path, "expected a JSON list of records (or {\"data_list\": [...]})")
    for n, rec in enumerate(items, 1):
        if not isinstance(rec, dict):
            raise InputError(path, "expected a JSON object", row=n)
        yield n, rec


def require(path: Path, row: int, rec: Mapping[str, Any], columns: Sequence[str], layout: str) -> None:
    """One-line error naming the file, the row, the missing column(s) and the published layout."""
    missing = [c for c in columns if rec.get(c) in (None, "")]
    if missing:
        raise InputError(path, f"missing column {', '.join(repr(c) for c in missing)} (the published layout has "
                               f"{layout}); use the file as published, or rename the column", row=row)


def video_path(folder: Path, value: str, subdirs: Sequence[str] = ("", "videos")) -> str:
    """A video path from the file, resolved against the benchmark folder (or its ``videos/``); a URL is read as
    its file name under those folders (datasets that publish links ship the files beside them)."""
    text = str(value).strip()
    if "://" in text:  # a link: its file name, without a query string (signed URLs carry one)
        text = text.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
    p = Path(text)
    if p.is_absolute():
        return str(p)
    # absolute, links NOT resolved: a video's id is its own file name, even where the download is a symlink farm
    for sub in subdirs:
        cand = folder / sub / p
        if cand.exists():
            return os.path.abspath(cand)
    return os.path.abspath(folder / p)  # missing: the scoring run's probe gives it an error record


def pair_label(path: Path, row: int, column: str, value: Any) -> int:
    text = str(value).strip().lower()
    if text not in PAIR_LABELS:
        raise InputError(path, f"{column} must be A, B or same, got {value!r}", row=row)
    return PAIR_LABELS[text]


def number(path: Path, row: int, column: str, value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(path, f"{column} must be a number, got {value!r}", row=row) from None
    if x != x or x in (float("inf"), float("-inf")):
        raise InputError(path, f"{column} must be a finite number, got {value!r}", row=row)
    return x
