"""Human annotations: AIGVE-Bench v1/v2 JSON, generic JSONL and CSV, read into one record type.

Used by reports (human scores to compare against) and training (targets with optional comments).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.aspects import ASPECT_KEYS, canonical_key
from aigve.errors import InputError

ID_FIELDS = ("id", "video_id", "uid", "name")
VIDEO_FIELDS = ("video_path_pd", "video", "video_path", "video_name", "path", "file")
PROMPT_FIELDS = ("prompt_gt", "prompt", "text", "caption")
GENERATOR_FIELDS = ("model", "generator", "model_name", "method")


@dataclass
class Annotation:
    """One human-rated video.

    ``scores``: canonical aspect key -> number (int for AIGVE-Bench; float allowed for averaged
    ratings) for the aspects the file rates. ``comments``: canonical key -> human comment
    (AIGVE-Bench 2). ``video``: path as written in the file, resolved against ``video_dir`` or the
    file's folder when relative. ``row``: 1-based row/line/list position in the source file.
    """

    id: str
    video: str | None
    prompt: str | None
    scores: dict[str, float] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    generator: str | None = None
    row: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_annotations(
    path: str | os.PathLike,
    *,
    video_dir: str | os.PathLike | None = None,
    on_error: Callable[[InputError, dict[str, Any]], None] | None = None,
) -> list[Annotation]:
    """Read human annotations from AIGVE-Bench JSON (``{"metainfo", "data_list"}``), a JSON list,
    JSONL or CSV. Aspect keys in any accepted spelling; nested ``{aspect: {"score", "comment"}}``
    or flat ``<aspect>`` + ``<aspect>_comment`` fields.

    Raises InputError naming the file and row for unreadable files, non-numeric or out-of-range
    scores, entries with no id or video, and duplicate ids. With ``on_error``, a bad entry is
    instead passed to ``on_error(error, entry)`` and skipped (the file itself must still be readable).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    base = Path(video_dir) if video_dir else path.parent
    out: list[Annotation] = []
    seen: dict[str, int] = {}
    for row, entry in _iter_entries(path):
        try:
            ann = _to_annotation(entry, path, row, base)
            if ann.id in seen:
                raise InputError(path, f"duplicate id {ann.id!r} (first seen at row {seen[ann.id]})", row=row)
        except InputError as exc:
            if on_error is None:
                raise
            on_error(exc, entry)
            continue
        seen[ann.id] = row
        out.append(ann)
    if not out and on_error is None:
        raise InputError(path, "no entries found")
    return out


def jsonl_objects(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of ``text`` (the content of JSONL file ``path``); a line
    that is not a JSON object raises InputError naming the file and the line. The one JSONL reader of annotation,
    pair and benchmark files."""
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"not valid JSON ({exc.msg})", row=i) from None
            if not isinstance(rec, dict):
                raise InputError(path, "expected a JSON object", row=i)
            yield i, rec


def _iter_entries(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as fh:
                for i, rec in enumerate(csv.DictReader(fh), 2):  # row 1 is the header
                    yield i, {k.strip(): v for k, v in rec.items() if k}
            return
        if suffix == ".jsonl":
            yield from jsonl_objects(path, path.read_text(encoding="utf-8"))
            return
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(path, "not a text file (expected JSON, JSONL or CSV)") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    items = data.get("data_list") if isinstance(data, dict) else data
    if isinstance(data, dict) and items is None:
        raise InputError(path, "JSON object without 'data_list' (expected AIGVE-Bench layout or a list)")
    if not isinstance(items, list):
        raise InputError(path, "expected a list of entries")
    for i, rec in enumerate(items, 1):
        if not isinstance(rec, dict):
            raise InputError(path, "expected a JSON object", row=i)
        yield i, rec


def _first(entry: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = entry.get(name)
        if value not in (None, ""):
            return value
    return None


def _to_annotation(entry: dict[str, Any], path: Path, row: int, base: Path) -> Annotation:
    video = _first(entry, VIDEO_FIELDS)
    ident = _first(entry, ID_FIELDS)
    if ident is None and video is not None:
        ident = Path(str(video)).stem
    if ident is None:
        raise InputError(path, f"entry has no id or video field (looked for {', '.join(ID_FIELDS + VIDEO_FIELDS)})", row=row)
    if video is not None and Path(str(video)).suffix:  # a file name; a bare name like "cogvideox_0" stays
        video = _resolve(str(video), base)
    generator = _first(entry, GENERATOR_FIELDS)
    if generator is None:
        m = re.fullmatch(r"(.+?)_\d+", Path(str(video or ident)).stem)
        generator = m.group(1) if m else None
    scores, comments, extra = {}, {}, {}
    for raw_key, value in _flatten(entry, path, row).items():
        key = canonical_key(raw_key)
        comment_key = canonical_key(raw_key[: -len("_comment")]) if raw_key.endswith("_comment") else None
        if comment_key:
            if value not in (None, ""):
                comments[comment_key] = str(value)
        elif key:
            if isinstance(value, dict):
                if value.get("comment"):
                    comments[key] = str(value["comment"])
                value = value.get("score")
            number = _score(value, path, row, raw_key)
            if number is not None:
                scores[key] = number
        elif raw_key not in ID_FIELDS + VIDEO_FIELDS + PROMPT_FIELDS + GENERATOR_FIELDS:
            extra[raw_key] = value
    prompt = _first(entry, PROMPT_FIELDS)
    return Annotation(id=str(ident), video=None if video is None else str(video),
                      prompt=None if prompt is None else str(prompt), scores=scores, comments=comments,
                      generator=None if generator is None else str(generator), row=row, extra=extra)


def _flatten(entry: dict[str, Any], path: Path, row: int) -> dict[str, Any]:
    """Lift aigve-results-style ``"scores": {aspect: n}`` / ``"comments": {aspect: text}`` to the top level."""
    flat = {k: v for k, v in entry.items() if k not in ("scores", "comments")}
    for name, suffix in (("scores", ""), ("comments", "_comment")):
        nested = entry.get(name)
        if nested is None:
            continue
        if not isinstance(nested, dict):
            raise InputError(path, f"{name!r} must be an object mapping aspect -> value, got {type(nested).__name__}",
                             row=row)
        flat.update({f"{k}{suffix}": v for k, v in nested.items()})
    return flat


def _resolve(video: str, base: Path) -> str:
    p = Path(video)
    return str(p if p.is_absolute() else base / p)


def read_number(value: Any, path: str | os.PathLike, row: int | None, key: str) -> float | None:
    """A score cell as a finite float: None, '' and NaN -> None; booleans, text and infinities raise
    InputError naming the file, row and key. Shared by human-score and model-score readers."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InputError(path, f"score {key!r} is a boolean ({value!r}), expected a number 0-5", row=row)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(path, f"score {key!r} is not a number: {value!r}", row=row) from None
    if math.isinf(number):
        raise InputError(path, f"score {key!r} is infinite", row=row)
    return None if math.isnan(number) else number


def _score(value: Any, path: Path, row: int, key: str) -> float | None:
    """A human score as a number in [0, 5] (int when whole); empty -> None; anything else raises InputError."""
    number = read_number(value, path, row, key)
    if number is None:
        return None
    if not 0 <= number <= 5:
        raise InputError(path, f"score {key!r}={number} is outside 0-5", row=row)
    return int(number) if number.is_integer() else number


def rated_aspects(annotations: list[Annotation]) -> list[str]:
    """Canonical keys rated by at least one annotation, in aspect order."""
    present = {k for a in annotations for k in a.scores}
    return [k for k in ASPECT_KEYS if k in present]
