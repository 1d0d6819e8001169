"""Score files -> per-system tables, and the join with human annotations.

A score file is an aigve ``results.jsonl`` (records with ``id``, ``video``, ``scores``; see
:mod:`aigve.results`), a JSONL of raw model answers (``output``/``raw_text`` parsed with
:func:`aigve.parsing.parse_response`, as in the released model's result dumps), or a CSV with an ``id``
(or ``video``) column and one column per aspect (any accepted spelling). Items join human annotations on
the id or the video's file stem.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.annotations import Annotation, read_number
from aigve.aspects import ASPECT_KEYS, BY_KEY, canonical_key
from aigve.errors import InputError

log = logging.getLogger(__name__)

ID_COLUMNS = ("id", "video_id", "uid")
VIDEO_COLUMNS = ("video", "video_name", "video_path", "video_path_pd", "path", "file", "name")
RAW_TEXT_FIELDS = ("output", "raw_text", "response")


@dataclass
class ScoreRecord:
    """One scored item. ``scores``: canonical key -> number for the aspects that got a score.
    ``error``: message when the item failed (then ``scores`` is empty). ``row``: 1-based line/row."""

    id: str
    video: str | None
    scores: dict[str, float] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    row: int | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)  # the judge's expected scores, where recorded


@dataclass
class ScoreFile:
    """All records of one system. ``disclaimer``: why these scores are not a real evaluation, if so.
    ``skipped_lines``: 1-based lines left out because they were cut off (an interrupted run's last line).
    ``label``: how the report names the file (e.g. an upload's own name); None shows ``path``."""

    name: str
    path: Path
    records: list[ScoreRecord]
    backends: list[str] = field(default_factory=list)
    disclaimer: str | None = None
    n_parse_failures: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    label: str | None = None

    @property
    def shown_path(self) -> str:
        """The file as named in the report: ``label``, else the path."""
        return self.label or str(self.path)

    @property
    def n_errors(self) -> int:
        return sum(r.error is not None for r in self.records)

    @property
    def aspects(self) -> list[str]:
        """Canonical keys with at least one score, in aspect order."""
        present = {k for r in self.records for k in r.scores}
        return [k for k in ASPECT_KEYS if k in present]


def stem(name: str | None) -> str | None:
    """File stem of a path or bare name ("a/b/clip_01.mp4" -> "clip_01")."""
    return None if name in (None, "") else Path(str(name)).stem


def parse_system_arg(spec: str) -> tuple[str | None, Path]:
    """``name=path`` or ``path`` -> (name or None, path). A path that itself contains '=' and exists wins."""
    if "=" in spec and not Path(spec).exists():
        name, _, path = spec.partition("=")
        if name.strip():
            return name.strip(), Path(path)
    return None, Path(spec)


def default_names(paths: Sequence[Path]) -> list[str]:
    """File stems, or the folder name for the generic ``results.*``; repeats get ``-2``, ``-3``..."""
    names, seen = [], {}
    for p in paths:
        base = p.parent.name if p.stem == "results" and p.parent.name else p.stem
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


def _scores_from(mapping: dict[str, Any], path: Path, row: int) -> tuple[dict[str, float], dict[str, str]]:
    """Canonical scores/comments from ``{aspect: n}`` or ``{aspect: {"score", "comment"}}``."""
    scores, comments = {}, {}
    for raw_key, value in mapping.items():
        key = canonical_key(str(raw_key))
        if key is None:
            continue
        if isinstance(value, dict):
            if value.get("comment"):
                comments[key] = str(value["comment"])
            value = value.get("score")
        number = read_number(value, path, row, str(raw_key))
        if number is not None:
            scores[key] = number
    return scores, comments


def _first(record: dict[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        if record.get(name) not in (None, ""):
            return record[name]
    return None


def _backend_label(backend: Any) -> str | None:
    if not backend:
        return None
    if isinstance(backend, dict):
        name = backend.get("name") or backend.get("backend")
        model = backend.get("model") or backend.get("model_path")
        return " ".join(str(x) for x in (name, model) if x) or json.dumps(backend, sort_keys=True)
    return str(backend)


def _parse_raw(text: str, counter: list[int]) -> tuple[dict[str, float], dict[str, str]]:
    from aigve.errors import ResponseParseError
    from aigve.parsing import parse_response

    try:
        parsed = parse_response(text)
    except ResponseParseError:
        counter[0] += 1
        return {}, {}
    scores = {k: float(v) for k, v in parsed.scores.items() if v is not None}
    return scores, {k: v for k, v in parsed.comments.items() if v}


def _jsonl_record(rec: dict[str, Any], path: Path, row: int, failures: list[int]) -> ScoreRecord:
    video = _first(rec, VIDEO_COLUMNS)
    ident = _first(rec, ID_COLUMNS)
    ident = stem(str(video)) if ident is None and video is not None else ident
    if ident is None:
        raise InputError(path, f"record has no id or video field (looked for {', '.join(ID_COLUMNS + VIDEO_COLUMNS)})",
                         row=row)
    own = rec.get("aspect_set") or (rec.get("backend") or {}).get("aspect_set")
    if own or rec.get("preference") is not None:  # never fold VideoScore2's visual_quality into technical_quality
        kind = (f"judge profile {own.get('name')!r} scores its own aspects ({', '.join(own.get('keys') or [])})"
                if isinstance(own, dict) else "a pairwise judge answered A/B/same for pairs")
        raise InputError(path, f"{kind}, and the report compares the nine AIGVE-MACS aspects; use `aigve benchmark "
                               "run` for that judge's benchmark metrics", row=row)
    error = rec.get("error")
    error_msg = (error.get("message") or str(error)) if isinstance(error, dict) else (str(error) if error else None)
    if isinstance(rec.get("scores"), dict):
        scores, comments = _scores_from(rec["scores"], path, row)
        comments.update({canonical_key(k) or k: str(v) for k, v in (rec.get("comments") or {}).items() if v})
    elif isinstance(_first(rec, RAW_TEXT_FIELDS), str):
        scores, comments = _parse_raw(_first(rec, RAW_TEXT_FIELDS), failures)
    else:
        scores, comments = _scores_from(rec, path, row)
    extra = {k: v for k, v in rec.items() if isinstance(v, (str, int, float)) and canonical_key(k) is None}
    expected = _scores_from(rec["expected_scores"], path, row)[0] if isinstance(rec.get("expected_scores"), dict) else {}
    if isinstance(rec.get("meta"), dict):  # the manifest's own columns (generator, ...): --group-by reads them
        extra.update({str(k): v for k, v in rec["meta"].items() if str(k) not in extra})
    if error_msg:  # a failed item has no usable answer, whatever fields it carries
        scores, comments, expected = {}, {}, {}
    return ScoreRecord(str(ident), None if video is None else str(video), scores, comments, row, error_msg, extra,
                       expected)


def _read_jsonl(path: Path, skipped: list[int]) -> tuple[list[ScoreRecord], list[Any], int]:
    """Records, backends and the count of unparseable raw answers; cut-off lines are added to ``skipped``."""
    from aigve.results import iter_records

    records, backends, failures = [], [], [0]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(path, "not a text file (expected JSONL, JSON or CSV)") from None
    entries: list[tuple[int, Any]] | None = None
    if path.suffix.lower() == ".json":  # a whole-file JSON list (or {"data_list": [...]}) is accepted too
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        items = data.get("data_list", data.get("results")) if isinstance(data, dict) else data
        if isinstance(items, list):
            entries = list(enumerate(items, 1))
    if entries is None:
        read = list(iter_records(path, strict=False, skipped=skipped))  # a cut-off last line is skipped
        rows = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() and n not in skipped]
        entries = list(zip(rows, read, strict=True))
    for row, rec in entries:
        if not isinstance(rec, dict):
            raise InputError(path, "expected a JSON object", row=row)
        records.append(_jsonl_record(rec, path, row, failures))
        backends.append(rec.get("backend"))
    return records, backends, failures[0]


def _read_csv(path: Path) -> list[ScoreRecord]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or []) if h]
        id_col = next((c for c in ID_COLUMNS if c in header), None)
        video_col = next((c for c in VIDEO_COLUMNS if c in header), None)
        aspect_cols = [c for c in header if canonical_key(c)]
        if id_col is None and video_col is None:
            raise InputError(path, f"missing an id column (one of {', '.join(ID_COLUMNS + VIDEO_COLUMNS)}); "
                                   f"columns found: {', '.join(header) or 'none'}", row=1)
        if not aspect_cols:
            raise InputError(path, f"no aspect score columns (expected some of {', '.join(ASPECT_KEYS)}); "
                                   f"columns found: {', '.join(header)}", row=1)
        records = []
        for row, raw in enumerate(reader, 2):  # row 1 is the header
            rec = {k.strip(): v for k, v in raw.items() if k}
            ident = rec.get(id_col) if id_col else None
            video = rec.get(video_col) if video_col else None
            ident = ident or stem(video)
            if not ident:
                raise InputError(path, f"empty {id_col or video_col!r}", row=row)
            scores = {}
            for col in aspect_cols:
                number = read_number(rec.get(col), path, row, col)
                if number is not None:
                    scores[canonical_key(col)] = number
            error = (rec.get("error") or None) if rec.get("status", "ok") == "error" else None
            extra = {k: v for k, v in rec.items() if k not in aspect_cols and k not in (id_col, video_col)}
            extra.update({k[5:]: v for k, v in list(extra.items())  # results.csv's meta.<name> columns
                          if isinstance(k, str) and k.startswith("meta.") and k[5:] not in extra})
            records.append(ScoreRecord(str(ident), video or None, scores, {}, row, error, extra))
    return records


def _check_duplicates(records: list[ScoreRecord], path: Path, *, allow_resumed: bool) -> list[ScoreRecord]:
    """Raise on a repeated id, except (JSONL) a re-score after a failed attempt: the later record wins."""
    kept: dict[str, ScoreRecord] = {}
    for rec in records:
        prev = kept.get(rec.id)
        if prev is not None and not (allow_resumed and prev.error is not None):
            raise InputError(path, f"duplicate id {rec.id!r} (first seen at row {prev.row}); "
                                   "each item must appear once", row=rec.row)
        kept[rec.id] = rec
    return list(kept.values())


def load_scores(path: str | os.PathLike, name: str | None = None) -> ScoreFile:
    """Read one system's score file (JSONL results/raw outputs or CSV). Raises InputError naming the
    file and row for missing columns, duplicate ids, non-numeric scores, or an empty file."""
    from aigve.report.provenance import disclaimer_for

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "score file not found")
    backends: list[Any] = []
    failures = 0
    skipped: list[int] = []
    if path.suffix.lower() == ".csv":
        records = _read_csv(path)
    elif path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        records, backends, failures = _read_jsonl(path, skipped)
    else:
        raise InputError(path, "unknown score file type (expected .jsonl or .csv)")
    if not records:
        raise InputError(path, "no records found" + (" (its only line is incomplete: interrupted run?)"
                                                     if skipped else ""))
    records = _check_duplicates(records, path, allow_resumed=path.suffix.lower() != ".csv")
    labels = sorted({label for b in backends if (label := _backend_label(b))})
    if failures:
        log.warning("%s: %d raw model answers could not be parsed; counted as unscored", path, failures)
    return ScoreFile(name or default_names([path])[0], path, records, labels,
                     disclaimer_for(backends), failures, skipped)


@dataclass
class Joined:
    """A system's records paired with human annotations.

    ``unmatched_scores``: ids in the score file with no annotation; ``unmatched_human``: annotation ids
    with no record.
    """

    system: ScoreFile
    pairs: list[tuple[Annotation, ScoreRecord]]
    unmatched_scores: list[str]
    unmatched_human: list[str]


def join(system: ScoreFile, annotations: Sequence[Annotation]) -> Joined:
    """Pair records and annotations by id, else by video file stem (either side's id or video)."""
    by_key: dict[str, int] = {}
    for i, ann in enumerate(annotations):
        for key in (ann.id, stem(ann.video), stem(ann.id)):
            if key is not None:
                by_key.setdefault(key, i)
    used: set[int] = set()
    pairs, unmatched = [], []
    for rec in system.records:
        hit = next((by_key[k] for k in (rec.id, stem(rec.video), stem(rec.id)) if k in by_key), None)
        if hit is None or hit in used:
            unmatched.append(rec.id)
            continue
        used.add(hit)
        pairs.append((annotations[hit], rec))
    missing = [a.id for i, a in enumerate(annotations) if i not in used]
    return Joined(system, pairs, unmatched, missing)


def item_value(ann: Annotation | None, rec: ScoreRecord | None, column: str) -> Any:
    """Grouping value for ``column``: an Annotation attribute, its ``extra``, or the record's ``extra``."""
    if ann is not None:
        if column in ("generator", "prompt", "video", "id") and getattr(ann, column) is not None:
            return getattr(ann, column)
        if column in ann.extra:
            return ann.extra[column]
    if rec is not None and column in rec.extra:
        return rec.extra[column]
    return None


def na_value(aspect: str, value: float | None, zero_as_na: bool) -> float | None:
    """None for missing scores, and for 0 on 'zero means absent' aspects when ``zero_as_na``."""
    if value is None:
        return None
    if zero_as_na and value == 0 and BY_KEY[aspect].zero_means_absent:
        return None
    return value
