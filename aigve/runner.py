"""Inputs of a batch run: a file, a folder or a manifest -> items, and their probe before a model loads.

The batch loop itself, the run folder and the run spec live in :mod:`aigve.run` (``batch``, ``folder``,
``spec``)."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.errors import AigveError, InputError, console_safe, json_error_text
from aigve.evaluator import VideoItem

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".json")


def collect_items(source: str | os.PathLike, *, prompt: str | None = None, uses_prompt: bool = True) -> list[VideoItem]:
    """Turn INPUT into items: a video file (``prompt`` applies), a folder (prompts from a
    ``manifest.csv``/``manifest.jsonl`` inside it, else ``<stem>.txt`` beside each video, else
    ``prompt``), or a CSV/JSONL/JSON-list manifest with ``video``, ``prompt`` and optional ``id`` fields
    (relative paths resolve against the manifest's folder). ``uses_prompt=False`` (a backend that never
    reads prompts, or no backend at all) silences the warnings about missing prompts."""
    from aigve.video import VIDEO_EXTENSIONS, is_video_path

    path = Path(source)
    if path.is_dir():
        for name in ("manifest.csv", "manifest.jsonl"):
            if (path / name).is_file():
                return read_manifest(path / name, uses_prompt=uses_prompt)
        # Every entry named like a video becomes an item, whatever it is (a symlink loop, a dangling link, a
        # directory called x.mp4, a FIFO): the probe gives each an error record naming the problem, instead of
        # an is_file() filter dropping it without a word. Other entries are listed in one log line.
        entries = sorted(path.iterdir())
        videos = [p for p in entries if is_video_path(p)]
        sidecars = {v.with_suffix(".txt") for v in videos}
        others = [p.name for p in entries if not is_video_path(p) and p not in sidecars]
        if others:
            log.info("%s: skipped %d entr%s not named as a video (%s): %s", path, len(others),
                     "y" if len(others) == 1 else "ies", ", ".join(VIDEO_EXTENSIONS),
                     ", ".join(console_safe(n) for n in others[:10]) + (", ..." if len(others) > 10 else ""))
        if not videos:
            raise InputError(path, "folder holds no video files and no manifest.csv/manifest.jsonl")
        items = _unique([VideoItem(id=p.stem, video=str(p), prompt=_sidecar_prompt(p, prompt)) for p in videos], path)
        unprompted = [it.id for it in items if not it.prompt]
        if unprompted and uses_prompt:
            log.warning("%s: %d video(s) have no prompt (no manifest.csv, no <name>.txt beside them, no --prompt); "
                        "prompt-dependent aspects will be judged without one, e.g. %s", path, len(unprompted),
                        unprompted[0])
        return items
    if path.suffix.lower() in MANIFEST_SUFFIXES:
        return read_manifest(path, uses_prompt=uses_prompt)
    if not path.exists() and not path.is_symlink():  # a broken or looping link gets its record, naming why
        raise InputError(path, "no such file or folder")
    if prompt is None and uses_prompt:
        log.warning("%s: no --prompt given; prompt-dependent aspects will be judged without one", path)
    return [VideoItem(id=path.stem, video=str(path), prompt=prompt or _sidecar_prompt(path, None))]


def _sidecar_prompt(video: Path, default: str | None) -> str:
    txt = video.with_suffix(".txt")
    try:
        return txt.read_text(encoding="utf-8").strip() if txt.is_file() else (default or "")
    except OSError as exc:  # unreadable sidecar: the video still gets its record; say why it has no prompt
        log.warning("%s: prompt file unreadable (%s); scoring without it", console_safe(txt), exc.strerror)
        return default or ""


def read_manifest(path: str | os.PathLike, *, uses_prompt: bool = True) -> list[VideoItem]:
    """Read a CSV, JSONL or JSON-list manifest; errors name the file and row. Empty prompts are warned
    about unless ``uses_prompt`` is False."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "manifest not found")
    try:
        rows = _manifest_rows(path)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the manifest as UTF-8") from None
    items = []
    for i, rec in rows:
        video = str(rec.get("video") or "").strip()
        if not video:
            raise InputError(path, "empty 'video' field", row=i)
        resolved = Path(video) if Path(video).is_absolute() else path.parent / video
        ident = str(rec.get("id") or "").strip() or Path(video).with_suffix("").as_posix()
        items.append(VideoItem(id=ident, video=str(resolved), prompt=str(rec.get("prompt") or ""), row=i,
                               meta=_meta(rec)))
    if not items:
        raise InputError(path, "manifest has no rows")
    unprompted = [it.row for it in items if not it.prompt.strip()]
    if unprompted and uses_prompt:
        log.warning("%s: %d row(s) have an empty prompt (first: row %s); prompt-dependent aspects will be "
                    "judged without one", path, len(unprompted), unprompted[0])
    named = {i for i, rec in rows if str(rec.get("id") or "").strip()}
    return _unique(items, path, named_rows=named, id_column=any("id" in rec for _, rec in rows))


MANIFEST_FIELDS = ("video", "prompt", "id")
CSV_FIELD_LIMIT = 64 * 1024 * 1024
"""Largest CSV manifest cell read, in characters (Python's csv default, 128 KiB, refuses a long prompt)."""


def _meta(rec: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A manifest row's columns other than video/prompt/id, as text (``generator``, ``seed``, ...)."""
    out = []
    for key, value in rec.items():
        if key is None or str(key) in MANIFEST_FIELDS:
            continue
        text = "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.append((str(key), text))
    return tuple(out)


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """A CSV manifest's rows; a repeated column name (which DictReader would silently let the last one win)
    and a cell over :data:`CSV_FIELD_LIMIT` are InputErrors naming them."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, CSV_FIELD_LIMIT))
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            names = reader.fieldnames or []
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise InputError(path, f"column {', '.join(map(repr, repeated))} appears more than once in the header; "
                                       f"keep one (the others would be ignored)")
            missing = {"video", "prompt"} - set(names)
            if missing:
                raise InputError(path, f"missing column(s) {', '.join(sorted(missing))}; found {reader.fieldnames}")
            rows = []
            try:
                for i, r in enumerate(reader, 2):
                    rows.append((i, r))
            except csv.Error as exc:
                raise InputError(path, f"unreadable CSV ({exc}; cells may hold at most {CSV_FIELD_LIMIT:,} "
                                       f"characters); use a JSONL manifest for longer fields",
                                 row=len(rows) + 2) from None
            return rows
    finally:
        csv.field_size_limit(old)


def _manifest_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(row number, record)`` pairs of a CSV/JSONL manifest (row numbers as a user counts them)."""
    rows: list[tuple[int, dict[str, Any]]] = []
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path)
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({json_error_text(exc, line=True)})") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) and "video" in r for r in data):
            raise InputError(path, "a JSON manifest must be a list of objects with a 'video' field (or use CSV/JSONL)")
        rows = list(enumerate(data, 1))
    else:
        for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):  # -sig: as for CSV
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(path, f"not valid JSON ({json_error_text(exc)})", row=i) from None
            if not isinstance(rec, dict) or "video" not in rec:
                raise InputError(path, "each line needs a JSON object with a 'video' field", row=i)
            rows.append((i, rec))
    return rows


def _unique(items: list[VideoItem], source: Path, *, named_rows: Collection[int] = (),
            id_column: bool = False) -> list[VideoItem]:
    """``items`` unchanged, or InputError at the first repeated id, saying how to fix it for where the id came
    from: a manifest's ``id`` field (``named_rows``), the video path (with or without an ``id`` column), or
    a file name in a folder (``row`` None)."""
    seen: dict[str, VideoItem] = {}
    for it in items:
        first = seen.setdefault(it.id, it)
        if first is it:
            continue
        if it.row is None:
            raise InputError(source, f"{Path(first.video).name} and {Path(it.video).name} both give the id {it.id!r} "
                                     f"(the file name without its extension); rename one, or list the videos in a "
                                     f"manifest.csv with an 'id' column")
        if it.row in named_rows:
            fix = "ids in the 'id' column must be unique; change one of them"
        elif id_column:
            fix = "this row's 'id' is empty, so its id comes from the video path; fill in a unique 'id'"
        else:
            fix = "add an 'id' column"
        raise InputError(source, f"duplicate id {it.id!r} (also at row {first.row}); {fix}", row=it.row)
    return items


@dataclass
class ProbeReport:
    """Outcome of checking every input before a model is loaded."""

    ok: list[tuple[VideoItem, Any]] = field(default_factory=list)
    failed: list[tuple[VideoItem, AigveError]] = field(default_factory=list)


def probe_items(items: Iterable[VideoItem]) -> ProbeReport:
    """Probe every input (readable, frame count, fps, duration, resolution) without a model."""
    from aigve.video import probe

    report = ProbeReport()
    for it in items:
        try:
            info = probe(it.video)
            if it.second is not None:  # a pair: both videos must be readable before a model loads
                probe(it.second)
            report.ok.append((it, info))
        except AigveError as exc:
            report.failed.append((it, exc))
    return report
