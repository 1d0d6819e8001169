"""Inputs of a batch run: a file, a folder or a manifest -> items, and their probe before a model loads.

The batch loop itself, the run folder and the run spec live in :mod:`aigve.run` (``batch``, ``folder``,
``spec``)."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.errors import AigveError, InputError, json_error_text
from aigve.evaluator import VideoItem

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".json")


def collect_items(source: str | os.PathLike, *, prompt: str | None = None, uses_prompt: bool = True) -> list[VideoItem]:
    """Turn INPUT into items: a video file (``prompt`` applies), a folder (prompts from a
    ``manifest.csv``/``manifest.jsonl`` inside it, else ``<stem>.txt`` beside each video, else
    ``prompt``), or a CSV/JSONL/JSON-list manifest with ``video``, ``prompt`` and optional ``id`` fields
    (relative paths resolve against the manifest's folder). ``uses_prompt=False`` (a backend that never
    reads prompts, or no backend at all) silences the warnings about missing prompts."""
    from aigve.video import is_video_path

    path = Path(source)
    if path.is_dir():
        for name in ("manifest.csv", "manifest.jsonl"):
            if (path / name).is_file():
                return read_manifest(path / name, uses_prompt=uses_prompt)
        videos = sorted(p for p in path.iterdir() if p.is_file() and is_video_path(p))
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
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if prompt is None and uses_prompt:
        log.warning("%s: no --prompt given; prompt-dependent aspects will be judged without one", path)
    return [VideoItem(id=path.stem, video=str(path), prompt=prompt or _sidecar_prompt(path, None))]


def _sidecar_prompt(video: Path, default: str | None) -> str:
    txt = video.with_suffix(".txt")
    return txt.read_text(encoding="utf-8").strip() if txt.is_file() else (default or "")


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
        items.append(VideoItem(id=ident, video=str(resolved), prompt=str(rec.get("prompt") or ""), row=i))
    if not items:
        raise InputError(path, "manifest has no rows")
    unprompted = [it.row for it in items if not it.prompt.strip()]
    if unprompted and uses_prompt:
        log.warning("%s: %d row(s) have an empty prompt (first: row %s); prompt-dependent aspects will be "
                    "judged without one", path, len(unprompted), unprompted[0])
    named = {i for i, rec in rows if str(rec.get("id") or "").strip()}
    return _unique(items, path, named_rows=named, id_column=any("id" in rec for _, rec in rows))


def _manifest_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(row number, record)`` pairs of a CSV/JSONL manifest (row numbers as a user counts them)."""
    rows: list[tuple[int, dict[str, Any]]] = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"video", "prompt"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(path, f"missing column(s) {', '.join(sorted(missing))}; found {reader.fieldnames}")
            rows = [(i, r) for i, r in enumerate(reader, 2)]
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
            report.ok.append((it, probe(it.video)))
        except AigveError as exc:
            report.failed.append((it, exc))
    return report
