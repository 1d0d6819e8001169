"""Result records: one JSON object per video, appended and flushed as a run goes, resumable after a crash."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aigve.aspects import ASPECT_KEYS, canonical_key
from aigve.errors import InputError, json_error_text

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: Record fields written only when set (a profile's own aspect set, a pairwise judge's second video and answer).
OPTIONAL_FIELDS = ("second", "preference", "aspect_set")


def _version() -> str:
    from aigve import __version__

    return __version__


@dataclass
class EvaluationResult:
    """The answer for one video.

    ``scores``/``comments``: all nine canonical keys (None where not scored). ``sampling``: see
    :meth:`aigve.media.SampledVideo.sampling_record`. ``timings``: seconds (``decode_s``,
    ``preprocess_s``, ``model_s``, ``parse_s``, ``total_s``). ``error``: None, or
    ``{"type", "message", "stage"}`` when the video failed; then ``status == "error"``.
    ``judged_aspects``: the aspects the backend really judges (``signals``: three plus its pixel-only
    ``overall``); a record missing any of them, or of a video only partly decodable (``sampling``'s
    ``decoded_fraction`` below 1), has ``status == "partial"`` (``"ok"``: every judged aspect scored over
    the whole video). ``meta``: the manifest's other columns (``generator``, ...), as strings.

    A judge profile with its own aspects (VideoScore2's three, 1-5) records them in ``aspect_set``
    (``{"name", "keys", "scale": [min, max]}``); ``scores``/``comments`` then hold those keys, read as they are
    (the nine-aspect spelling rules do not apply: VideoScore2's ``visual_quality`` is not AIGVE-MACS's
    ``technical_quality``). A pairwise judge's record is one per pair: ``video`` is A, ``second`` is B,
    ``preference`` maps a dimension to ``"A"``, ``"B"`` or ``"same"``, and nothing is scored. The three fields are
    left out of the record while None, so nine-aspect records read as before.
    """

    id: str
    video: str
    prompt: str
    scores: dict[str, int | None] = field(default_factory=lambda: {k: None for k in ASPECT_KEYS})
    comments: dict[str, str | None] = field(default_factory=lambda: {k: None for k in ASPECT_KEYS})
    expected_scores: dict[str, float | None] = field(default_factory=dict)
    confidence: dict[str, float | None] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    backend: dict[str, Any] = field(default_factory=dict)
    raw_text: str | None = None
    parse_flags: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    judged_aspects: list[str] = field(default_factory=lambda: list(ASPECT_KEYS))
    meta: dict[str, str] = field(default_factory=dict)
    second: str | None = None
    preference: dict[str, str] | None = None
    aspect_set: dict[str, Any] | None = None
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def ok(self) -> bool:
        """No error (the video was scored, perhaps :attr:`partially <status>`)."""
        return self.error is None

    @property
    def missing_aspects(self) -> list[str]:
        """Judged aspects with no score (the answer lacked them, was cut off, or gave a non-number)."""
        return [k for k in self.judged_aspects if self.scores.get(k) is None]

    @property
    def status(self) -> str:
        """``"error"``, ``"partial"`` (scored, but some judged aspect is missing) or ``"ok"``."""
        if not self.ok:
            return "error"
        return "partial" if self.missing_aspects or self.decoded_fraction < 1 else "ok"

    @property
    def decoded_fraction(self) -> float:
        """Share of the video's frames that decoded (below 1 for a truncated file: status ``partial``)."""
        return float(self.sampling.get("decoded_fraction", 1.0))

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        for name in OPTIONAL_FIELDS:  # absent while None: nine-aspect records stay as they were
            if record[name] is None:
                del record[name]
        record["status"] = self.status
        record["schema_version"] = SCHEMA_VERSION
        record["aigve_version"] = _version()
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> EvaluationResult:
        """Rebuild from a JSONL record, accepting released-model key spellings in scores/comments."""
        known = set(cls.__dataclass_fields__)
        data = {k: v for k, v in record.items() if k in known}
        for name in ("scores", "comments", "expected_scores", "confidence"):
            if isinstance(data.get(name), dict) and not data.get("aspect_set"):
                data[name] = {canonical_key(k) or k: v for k, v in data[name].items()}
        return cls(**data)

    @classmethod
    def failed(cls, id: str, video: str, prompt: str, exc: BaseException, stage: str, **kw: Any) -> EvaluationResult:
        """A record for a video that could not be scored; the message names the file and the problem."""
        return cls(id=id, video=video, prompt=prompt,
                   error={"type": type(exc).__name__, "message": str(exc), "stage": stage}, **kw)


class ResultWriter:
    """Appends records to a JSONL file, flushing and fsync-ing each, so a crash loses nothing written.

    Use as a context manager. ``done_ids()`` gives the ids already present (for ``--resume``).
    """

    def __init__(self, path: str | os.PathLike, *, fsync: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._repair_tail()
        self._fh = open(self.path, "a", encoding="utf-8")

    def _repair_tail(self) -> None:
        """A crash mid-write can leave a partial last line; cut it so appends stay valid JSONL."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            log.warning("%s: dropping a partial last line left by an interrupted run", self.path)
            fh.truncate(cut)

    def write(self, result: EvaluationResult | dict[str, Any]) -> None:
        record = result.to_record() if isinstance(result, EvaluationResult) else result
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_records(path: str | os.PathLike, *, strict: bool = False,
                 skipped: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Yield records from a results JSONL.

    A truncated last line (a run interrupted mid-write) is skipped with a warning, or, when a ``skipped``
    list is given, its 1-based line number is appended to it and the skip is logged at debug level only
    (the caller, e.g. a report, says so itself; a warning too would tell the user twice); with ``strict``
    it raises instead. A bad line anywhere else always raises InputError naming the file
    and line.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if n == len(lines) and not strict:
                level = logging.WARNING if skipped is None else logging.DEBUG
                log.log(level, "%s: line %d is incomplete (interrupted run?); skipped", path, n)
                if skipped is not None:
                    skipped.append(n)
                continue
            raise InputError(path, f"not valid JSON ({json_error_text(exc)})", row=n) from None
        if not isinstance(record, dict):
            raise InputError(path, "expected a JSON object per line", row=n)
        yield record


def read_results(path: str | os.PathLike) -> list[EvaluationResult]:
    return [EvaluationResult.from_record(r) for r in iter_records(path)]


def done_ids(path: str | os.PathLike, *, include_errors: bool = False) -> set[str]:
    """Ids already scored in ``path`` (failed ones too when ``include_errors``), for resuming."""
    if not Path(path).exists():
        return set()
    return {str(r["id"]) for r in iter_records(path)
            if "id" in r and (include_errors or r.get("error") is None)}


def latest_by_id(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Keep the last record per id (a resumed run may re-score a failed video)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        out[str(r.get("id"))] = r
    return out


def write_text_atomic(path: str | os.PathLike, text: str, *, fsync: bool = False) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and an atomic rename, so a
    reader (or a crash) never sees half a file. The temporary name carries host and pid: several processes
    (sharded ranks, possibly on other nodes sharing the folder) may write the same file at once. ``fsync``:
    flush to disk before the rename (for files whose loss would lose results)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{socket.gethostname()}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # a full disk: leave no half-written temporary file behind
            tmp.unlink()
        raise
    return path


def compact_results(path: str | os.PathLike) -> int:
    """Rewrite a results JSONL keeping one record per id (the last), in the order ids first appeared.

    A resumed run appends a new record for each failed video it retries; afterwards the file holds both.
    The rewrite goes to a temporary file in the same folder, is fsync'ed, then atomically replaces the
    original, so a crash during it leaves the old file intact. Records without an id are kept as they are.
    Returns the number of superseded records removed (0: the file is left untouched).
    """
    path = Path(path)
    if not path.exists():
        return 0
    records = list(iter_records(path))
    slots: dict[str, int] = {}
    kept: list[dict[str, Any]] = []
    for record in records:
        if "id" not in record:
            kept.append(record)
        elif (key := str(record["id"])) in slots:
            kept[slots[key]] = record  # the later record supersedes, in the earlier one's place
        else:
            slots[key] = len(kept)
            kept.append(record)
    removed = len(records) - len(kept)
    if removed == 0:
        return 0
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), fsync=True)
    log.info("%s: %d superseded record(s) of retried videos removed", path, removed)
    return removed


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run as a formula: text starting with ``= + - @`` or a tab or
    carriage return gets a leading ``'`` (the OWASP advice against CSV injection). Numbers pass unchanged,
    so a score of -1 stays a number. The one function both results.csv and the web download use."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def record_status(r: dict[str, Any]) -> str:
    """A record's status, also for records written before ``status``/``judged_aspects`` were recorded."""
    if r.get("error") is not None:
        return "error"
    if r.get("status") in ("ok", "partial"):
        return str(r["status"])
    scores = record_scores(r)
    judged = r.get("judged_aspects")
    judged = ASPECT_KEYS if judged is None else judged
    cut = float((r.get("sampling") or {}).get("decoded_fraction", 1.0)) < 1
    return "partial" if cut or any(scores.get(k) is None for k in judged) else "ok"


def record_scores(r: dict[str, Any]) -> dict[str, Any]:
    """A record's scores by canonical key: nine-aspect spellings folded (``element_presentence`` ->
    ``element_presence``), a profile's own aspect keys (``aspect_set``) kept as written."""
    scores = r.get("scores") or {}
    if r.get("aspect_set"):
        return dict(scores)
    return {canonical_key(k) or k: v for k, v in scores.items()}


def score_columns(records: Iterable[dict[str, Any]]) -> tuple[str, ...]:
    """The score columns of a table of ``records``: the nine aspects, unless some record carries its profile's
    own aspect set; then every set's keys in first-seen order (the nine first when scored nine-aspect records are
    mixed in)."""
    sets = [tuple((r.get("aspect_set") or {}).get("keys") or ()) for r in records]
    if not any(sets):
        return ASPECT_KEYS
    # a failed record carries no aspect set (it never reached the judge): it adds no columns of its own
    nine = any(not s and not r.get("preference") and r.get("error") is None for s, r in zip(sets, records, strict=True))
    return tuple(dict.fromkeys([*(ASPECT_KEYS if nine else ()), *(k for s in sets for k in s)]))


def write_csv(records: Iterable[dict[str, Any]], path: str | os.PathLike) -> Path:
    """One row per video: id, video, prompt, status, the scores (:func:`score_columns`: the nine aspects, or a
    profile's own), total seconds, error message, then the manifest's other columns as ``meta.<name>``; a
    pairwise judge's records add ``second`` and ``preference.<dimension>``. Every text cell goes through
    :func:`safe_cell`."""
    path = Path(path)
    records = list(records)
    meta_cols = list(dict.fromkeys(f"meta.{k}" for r in records for k in (r.get("meta") or {})))
    keys = score_columns(records)
    pair_cols = list(dict.fromkeys(f"preference.{k}" for r in records for k in (r.get("preference") or {})))
    pair_cols = ["second", *pair_cols] if pair_cols or any(r.get("second") for r in records) else []
    cols = ["id", "video", *pair_cols[:1], "prompt", "status", *keys, *pair_cols[1:], "total_s", "error", *meta_cols]
    # Written whole in memory, then renamed into place: a full disk leaves the previous CSV intact.
    with io.StringIO(newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols)
        writer.writeheader()
        for r in records:
            row = {"id": r.get("id"), "video": r.get("video"), "prompt": r.get("prompt"),
                   "status": record_status(r),
                   "total_s": (r.get("timings") or {}).get("total_s"),
                   "error": (r.get("error") or {}).get("message")}
            scores = record_scores(r)
            row.update({k: scores.get(k) for k in keys})
            if pair_cols:
                row["second"] = r.get("second")
                row.update({f"preference.{k}": v for k, v in (r.get("preference") or {}).items()})
            row.update({f"meta.{k}": v for k, v in (r.get("meta") or {}).items()})
            writer.writerow({k: safe_cell(v) for k, v in row.items()})
        text = fh.getvalue()
    return write_text_atomic(path, text)
