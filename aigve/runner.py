"""Batch runs: inputs (file, folder, manifest) -> probe -> evaluator -> results.jsonl/csv, resumable."""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.errors import AigveError, InputError, console_safe, json_error_text
from aigve.evaluator import Evaluator, VideoItem
from aigve.results import (
    EvaluationResult,
    ResultWriter,
    compact_results,
    done_ids,
    iter_records,
    latest_by_id,
    record_status,
    write_csv,
    write_text_atomic,
)

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".json")
RESULTS_NAME, CSV_NAME, RUN_NAME = "results.jsonl", "results.csv", "run.json"


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
    partial: tuple[str, ...] = ()
    """Ids of scored records missing some judged aspect (status ``partial``), counted within ``scored``."""

    def line(self) -> str:
        return summary_text(self.scored, self.failed, self.skipped, self.total, self.wall_s, self.out_dir / RESULTS_NAME,
                            partial=self.partial)


def summary_text(scored: int, failed: int, skipped: int, total: int, wall_s: float, results: Path, *,
                 partial: Collection[str] = ()) -> str:
    """The summary printed after a run (or one shard of it); partial records are counted and (up to 10) listed,
    so an answer that lost aspects never passes for a whole one."""
    rate = scored / wall_s if wall_s > 0 else 0.0
    text = (f"{scored} scored, {failed} failed, {skipped} skipped (resume) of {total} "
            f"in {wall_s:.1f} s ({rate:.2f} videos/s) -> {results}")
    if partial:
        shown = ", ".join(console_safe(p) for p in list(partial)[:10]) + (", ..." if len(partial) > 10 else "")
        text += f"\n{len(partial)} of the scored are partial (some judged aspect missing): {shown}"
    return text


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
    spec: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Score ``items`` into ``out_dir/results.jsonl`` (appended and flushed per video) and
    ``results.csv`` (rewritten at the end, also after Ctrl-C). With ``resume`` videos already
    scored successfully are skipped; failed ones are tried again, and at the end ``results.jsonl`` keeps only
    the newest record per video (see :func:`aigve.results.compact_results`). Inputs that fail the probe get
    an error record without reaching the model. ``evaluator`` may be a factory: it is called only
    after the probe, and only if some input passed it. ``spec``/``settings``: the run's identity and its
    runtime settings (:func:`aigve.commands.options.run_spec`), recorded in ``run.json``; with ``resume``, a
    ``spec`` that differs from the recorded one raises InputError before anything is scored."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / RESULTS_NAME
    refuse_existing(results_path, resume)
    begin_run(out, spec, settings, resume=resume, items=len(items))
    start = time.perf_counter()
    partial: list[str] = []
    try:
        scored, failed, skipped = score_into(recording(evaluator, out, len(items), batch_size), items, results_path,
                                             resume=resume, batch_size=batch_size, progress=progress,
                                             probe_first=probe_first)
    finally:
        if results_path.exists():
            if resume:  # retried failures left their old records behind: keep the newest per video
                compact_results(results_path)
            records = list(latest_by_id(iter_records(results_path)).values())
            write_csv(records, out / CSV_NAME)
            partial = [str(r.get("id")) for r in records if record_status(r) == "partial"]
    return RunSummary(len(items), scored, failed, skipped, time.perf_counter() - start, out, tuple(partial))


def refuse_existing(results_path: Path, resume: bool) -> None:
    """Raise InputError when ``results_path`` holds records and this is not a resume."""
    if results_path.exists() and results_path.stat().st_size and not resume:
        raise InputError(results_path, "already exists; pass --resume to continue it, --overwrite to discard it and "
                                         "start afresh, or choose another --out")


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
    refuse_existing(results_path, resume)
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
                    writer.write(EvaluationResult.failed(it.id, it.video, it.prompt, exc, stage="probe",
                                                         meta=dict(it.meta)))
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


# ------------------------------------------------------------------------------ run.json: identity + settings


def read_run_info(out_dir: str | os.PathLike) -> dict[str, Any]:
    """``out_dir/run.json`` as a dict; {} when missing or unreadable."""
    path = Path(out_dir) / RUN_NAME
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s); its run spec cannot be checked", path, exc)
        return {}
    return info if isinstance(info, dict) else {}


def write_run_info(out_dir: str | os.PathLike, info: Mapping[str, Any]) -> None:
    """Write ``run.json`` atomically (sharded ranks may write it at the same time)."""
    write_text_atomic(Path(out_dir) / RUN_NAME, json.dumps(info, indent=2, default=str))


def has_results(out_dir: str | os.PathLike) -> bool:
    """True when ``out_dir`` holds any record (results.jsonl or a shard's results.rank*.jsonl)."""
    out = Path(out_dir)
    return any(p.stat().st_size for p in [out / RESULTS_NAME, *out.glob("results.rank*.jsonl")] if p.is_file())


_UNSET = object()


def spec_differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``"field: old -> new"`` for every field that differs, nested fields dotted (``sampling.fps``), sorted."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, _UNSET), new.get(key, _UNSET)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            lines += spec_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            show = [("(unset)" if v is _UNSET else repr(v)) for v in (a, b)]
            lines.append(f"{prefix}{key}: {show[0]} -> {show[1]}")
    return lines


def as_recorded(spec: Mapping[str, Any]) -> Any:
    """``spec`` as a JSON file holds it (tuples as lists, paths and other objects as text), so a spec just
    built compares equal to the same spec read back from run.json or a shard's state file."""
    return json.loads(json.dumps(spec, default=str))


def check_spec(out_dir: str | os.PathLike, spec: Mapping[str, Any]) -> None:
    """Refuse (InputError) to add to ``out_dir``'s results with a ``spec`` other than the recorded one.

    Nothing is checked when the folder holds no record yet; a folder whose run.json has no spec (written before
    aigve recorded one) only gets a warning.
    """
    out = Path(out_dir)
    if not has_results(out):
        return
    recorded = read_run_info(out).get("spec")
    if not isinstance(recorded, Mapping):
        log.warning("%s: run.json records no run spec (written by an older aigve, or without one); cannot check "
                    "that this run uses the same backend, model and options as the results already there", out)
        return
    diffs = spec_differences(recorded, as_recorded(spec))
    if diffs:
        raise InputError(out, "cannot add to the results in this run folder: they were scored with other settings "
                              "(recorded -> now):\n"
                              + "".join(f"  {d}\n" for d in diffs)
                              + "use the same options to resume it, or score into another --out")


def begin_run(out_dir: str | os.PathLike, spec: Mapping[str, Any] | None, settings: Mapping[str, Any] | None = None,
              *, resume: bool, items: int) -> None:
    """Check ``spec`` against the folder's results (:func:`check_spec`), then record it in run.json, before
    anything is scored. A run that adds to existing results keeps the recorded start time (and spec when given
    none); a resume also notes when it ``resumed``."""
    out = Path(out_dir)
    if spec is not None:
        check_spec(out, spec)
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    info = read_run_info(out) if resume or has_results(out) else {}
    info.setdefault("started", now)
    if resume:
        info["resumed"] = now
    import aigve

    info.update(aigve_version=aigve.__version__, python=platform.python_version(), items=items)
    if spec is not None:
        info["spec"] = dict(spec)
    if settings is not None:
        info["settings"] = dict(settings)
        info["batch_size"] = settings.get("batch_size", info.get("batch_size"))
    write_run_info(out, info)


def _check_served_model(out_dir: str | os.PathLike, recorded: Any, now: Mapping[str, Any]) -> None:
    """A server-backed judge (vLLM client) is known only once connected: refuse to add to results scored
    with another served model (the run spec cannot see it; servers may differ per node or move)."""
    before = recorded if isinstance(recorded, Mapping) else {}
    if now.get("mode") != "client" or before.get("mode") != "client" or not has_results(out_dir):
        return
    if before.get("model") != now.get("model"):
        raise InputError(out_dir, f"the results here were scored with the model {before.get('model')!r} served by "
                                  f"{before.get('server_url')}; {now.get('server_url')} serves {now.get('model')!r}. "
                                  f"Point server_url at a server of that model, or use another --out")


def recording(evaluator: EvaluatorSource, out_dir: str | os.PathLike, n: int, batch_size: int) -> Callable[[], Evaluator]:
    """A factory that builds ``evaluator`` (when it is one) and adds its description to run.json."""
    def ready() -> Evaluator:
        built = _materialise(evaluator)
        info, described = read_run_info(out_dir), built.describe()
        _check_served_model(out_dir, info.get("evaluator"), described)
        info.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        info.update(items=n, batch_size=batch_size, evaluator=described)
        write_run_info(out_dir, info)
        return built

    return ready
