"""Batch runs: inputs (file, folder, manifest) -> probe -> evaluator -> results.jsonl/csv, resumable."""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.errors import AigveError, InputError
from aigve.evaluator import Evaluator, VideoItem
from aigve.results import (
    EvaluationResult,
    ResultWriter,
    compact_results,
    done_ids,
    iter_records,
    latest_by_id,
    write_csv,
)

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".json")
RESULTS_NAME, CSV_NAME, RUN_NAME = "results.jsonl", "results.csv", "run.json"


def collect_items(source: str | os.PathLike, *, prompt: str | None = None) -> list[VideoItem]:
    """Turn INPUT into items: a video file (``prompt`` applies), a folder (prompts from a
    ``manifest.csv``/``manifest.jsonl`` inside it, else ``<stem>.txt`` beside each video, else
    ``prompt``), or a CSV/JSONL/JSON-list manifest with ``video``, ``prompt`` and optional ``id`` fields
    (relative paths resolve against the manifest's folder)."""
    from aigve.video import is_video_path

    path = Path(source)
    if path.is_dir():
        for name in ("manifest.csv", "manifest.jsonl"):
            if (path / name).is_file():
                return read_manifest(path / name)
        videos = sorted(p for p in path.iterdir() if p.is_file() and is_video_path(p))
        if not videos:
            raise InputError(path, "folder holds no video files and no manifest.csv/manifest.jsonl")
        items = _unique([VideoItem(id=p.stem, video=str(p), prompt=_sidecar_prompt(p, prompt)) for p in videos], path)
        unprompted = [it.id for it in items if not it.prompt]
        if unprompted:
            log.warning("%s: %d video(s) have no prompt (no manifest.csv, no <name>.txt beside them, no --prompt); "
                        "prompt-dependent aspects will be judged without one, e.g. %s", path, len(unprompted),
                        unprompted[0])
        return items
    if path.suffix.lower() in MANIFEST_SUFFIXES:
        return read_manifest(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if prompt is None:
        log.warning("%s: no --prompt given; prompt-dependent aspects will be judged without one", path)
    return [VideoItem(id=path.stem, video=str(path), prompt=prompt or _sidecar_prompt(path, None))]


def _sidecar_prompt(video: Path, default: str | None) -> str:
    txt = video.with_suffix(".txt")
    return txt.read_text(encoding="utf-8").strip() if txt.is_file() else (default or "")


def read_manifest(path: str | os.PathLike) -> list[VideoItem]:
    """Read a CSV, JSONL or JSON-list manifest; errors name the file and row."""
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
    if unprompted:
        log.warning("%s: %d row(s) have an empty prompt (first: row %s); prompt-dependent aspects will be "
                    "judged without one", path, len(unprompted), unprompted[0])
    return _unique(items, path)


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
            raise InputError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
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
                raise InputError(path, f"not valid JSON ({exc.msg})", row=i) from None
            if not isinstance(rec, dict) or "video" not in rec:
                raise InputError(path, "each line needs a JSON object with a 'video' field", row=i)
            rows.append((i, rec))
    return rows


def _unique(items: list[VideoItem], source: Path) -> list[VideoItem]:
    seen: dict[str, VideoItem] = {}
    for it in items:
        if it.id in seen:
            raise InputError(source, f"duplicate id {it.id!r} (also at row {seen[it.id].row}); add an 'id' column", row=it.row)
        seen[it.id] = it
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


@dataclass
class RunSummary:
    total: int
    scored: int
    failed: int
    skipped: int
    wall_s: float
    out_dir: Path

    def line(self) -> str:
        return summary_text(self.scored, self.failed, self.skipped, self.total, self.wall_s, self.out_dir / RESULTS_NAME)


def summary_text(scored: int, failed: int, skipped: int, total: int, wall_s: float, results: Path) -> str:
    """The one-line summary printed after a run (or one shard of it)."""
    rate = scored / wall_s if wall_s > 0 else 0.0
    return (f"{scored} scored, {failed} failed, {skipped} skipped (resume) of {total} "
            f"in {wall_s:.1f} s ({rate:.2f} videos/s) -> {results}")


EvaluatorSource = Evaluator | Callable[[], Evaluator]


def _materialise(evaluator: EvaluatorSource) -> Evaluator:
    """An evaluator, building it now when given a factory (so bad inputs are found before a model loads)."""
    return evaluator if hasattr(evaluator, "evaluate_many") else evaluator()


def run_batch(
    evaluator: EvaluatorSource,
    items: list[VideoItem],
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    batch_size: int = 1,
    progress: bool = True,
    probe_first: bool = True,
) -> RunSummary:
    """Score ``items`` into ``out_dir/results.jsonl`` (appended and flushed per video) and
    ``results.csv`` (rewritten at the end, also after Ctrl-C). With ``resume`` videos already
    scored successfully are skipped; failed ones are tried again, and at the end ``results.jsonl`` keeps only
    the newest record per video (see :func:`aigve.results.compact_results`). Inputs that fail the probe get
    an error record without reaching the model. ``evaluator`` may be a factory: it is called only
    after the probe, and only if some input passed it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / RESULTS_NAME
    start = time.perf_counter()

    def ready() -> Evaluator:
        built = _materialise(evaluator)
        _write_run_info(out / RUN_NAME, built, len(items), batch_size)
        return built

    try:
        scored, failed, skipped = score_into(ready, items, results_path, resume=resume, batch_size=batch_size,
                                             progress=progress, probe_first=probe_first)
    finally:
        if results_path.exists():
            if resume:  # retried failures left their old records behind: keep the newest per video
                compact_results(results_path)
            write_csv(latest_by_id(iter_records(results_path)).values(), out / CSV_NAME)
    return RunSummary(len(items), scored, failed, skipped, time.perf_counter() - start, out)


def score_into(
    evaluator: EvaluatorSource,
    items: list[VideoItem],
    results_path: Path,
    *,
    resume: bool = False,
    batch_size: int = 1,
    progress: bool = True,
    probe_first: bool = True,
) -> tuple[int, int, int]:
    """The scoring loop behind :func:`run_batch` (and sharded runs): probe, score, append each record
    to ``results_path``. Returns ``(scored, failed, skipped)``; refuses to append to an existing file
    unless ``resume``. A factory ``evaluator`` is called after the probe, only if there is work left."""
    if results_path.exists() and results_path.stat().st_size and not resume:
        raise InputError(results_path, "already exists; pass --resume to continue it or choose another --out")
    done = done_ids(results_path) if resume else set()
    todo = [it for it in items if it.id not in done]
    skipped = len(items) - len(todo)
    failed = scored = 0
    infos = {}
    bar = _progress(len(todo), progress)
    try:
        with ResultWriter(results_path) as writer:
            if probe_first:
                report = probe_items(todo)
                for it, exc in report.failed:
                    writer.write(EvaluationResult.failed(it.id, it.video, it.prompt, exc, stage="probe"))
                    failed += 1
                    bar.update(1)
                todo = [it for it, _ in report.ok]
                infos = {it.id: info for it, info in report.ok}
            if not todo:
                return scored, failed, skipped
            for result in _materialise(evaluator).evaluate_many(todo, batch_size=batch_size, infos=infos):
                writer.write(result)
                scored += result.ok
                failed += not result.ok
                bar.update(1)
                bar.set_postfix(failed=failed)
    finally:
        bar.close()
    return scored, failed, skipped


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="video", desc="scoring", disable=not enabled, dynamic_ncols=True)


def _write_run_info(path: Path, evaluator: Evaluator, n: int, batch_size: int) -> None:
    import aigve

    info = {"aigve_version": aigve.__version__, "python": platform.python_version(), "items": n,
            "batch_size": batch_size, "evaluator": evaluator.describe(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
