"""What a refinement run leaves on disk: ``trace.jsonl`` (one line per event, appended, flushed and fsync-ed as
the run goes), ``summary.json`` (gains from round 0 to the best round, the stopping rule) and ``best.mp4``.

Paths in these files are relative to the run folder (``videos/round_00.mp4``, ``best.mp4``), so the folder can
be moved or copied whole; :func:`read_trace` resolves them against the folder it reads."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aigve.aspects import ASPECT_KEYS
from aigve.results import ResultWriter, iter_records

TRACE_FILE = "trace.jsonl"
SUMMARY_FILE = "summary.json"
BEST_FILE = "best.mp4"
VIDEO_DIR = "videos"
#: Generators whose videos are synthetic renderings, not a text-to-video model's output.
SYNTHETIC_GENERATORS = ("procedural",)


def caveats(generator: Any, evaluator: Any) -> dict[str, str | None]:
    """What a reader of the run's gains must know, from the ``describe()`` dicts of generator and evaluator:
    ``not_a_real_evaluation`` (why the scores are placeholders: fake backend, tiny random-weight model; the
    same test as ``aigve score`` / ``aigve report`` / the web UI) and ``synthetic_generator`` (the videos come
    from an offline renderer, so a gain shows the loop works and is not a video model's). None when not so."""
    from aigve.core.provenance import of_backend

    name = generator.get("name") if isinstance(generator, Mapping) else generator
    synthetic = None
    if name in SYNTHETIC_GENERATORS:
        synthetic = (f"the '{name}' generator is a synthetic offline renderer: a gain shows the loop works and is "
                     "not comparable with the gains of a real text-to-video model")
    found = of_backend(evaluator)
    return {"not_a_real_evaluation": None if found.is_real else found.reason, "synthetic_generator": synthetic}


def gain(before: float | None, after: float | None) -> dict[str, float | None]:
    """Absolute (``after - before``, score points) and relative (``abs / before``, a fraction; None when
    ``before`` is 0 or either side is missing) gain.

    >>> gain(2, 3)
    {'round0': 2, 'best': 3, 'abs_gain': 1, 'rel_gain': 0.5}
    """
    if before is None or after is None:
        return {"round0": before, "best": after, "abs_gain": None, "rel_gain": None}
    delta = after - before
    if isinstance(delta, float):
        delta = round(delta, 6)
    return {"round0": before, "best": after, "abs_gain": delta,
            "rel_gain": round(delta / before, 6) if before else None}


def aspect_gains(first: Mapping[str, int | None], best: Mapping[str, int | None]) -> dict[str, dict[str, Any]]:
    """:func:`gain` for each of the nine aspects, canonical keys, from round-0 scores to best-round scores."""
    return {key: gain(first.get(key), best.get(key)) for key in ASPECT_KEYS}


class TraceWriter:
    """Appends ``{"event": kind, "time": ..., **data}`` lines to ``out_dir/trace.jsonl``; each line is flushed
    and fsync-ed before ``event`` returns (reuses :class:`aigve.results.ResultWriter`)."""

    def __init__(self, out_dir: str | os.PathLike):
        self.path = Path(out_dir) / TRACE_FILE
        self._writer = ResultWriter(self.path)

    def event(self, kind: str, **data: Any) -> None:
        self._writer.write({"event": kind, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **data})

    def close(self) -> None:
        self._writer.close()


def run_relative(path: str | os.PathLike, out_dir: str | os.PathLike) -> str:
    """``path`` as the run's files store it: relative to ``out_dir`` (POSIX separators) when inside it, else
    absolute (a generator that wrote outside the run folder)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path(out_dir).resolve()).as_posix()
    except ValueError:
        return str(path)


def resolve_video(out_dir: str | os.PathLike, stored: str) -> Path:
    """The file a trace's ``video`` field names, for a run folder now at ``out_dir``.

    Current traces store paths relative to the run folder. Traces written before that stored the path as the
    generator returned it (relative to the directory refine ran from, e.g. ``runs/rt/videos/round_00.mp4``, or
    absolute): when that path no longer leads to the file (the folder moved, or the reader runs elsewhere), the
    same file name under ``out_dir/videos/`` is used."""
    out, path = Path(out_dir), Path(stored)
    candidate = path if path.is_absolute() else out / path
    if candidate.exists():
        return candidate
    legacy = out / VIDEO_DIR / path.name
    if path.parent.name == VIDEO_DIR and legacy.exists():
        return legacy
    if not path.is_absolute() and path.exists():  # an old trace read from the directory it was written from
        return path
    return candidate


def read_trace(out_dir: str | os.PathLike, *, resolve_paths: bool = True) -> list[dict[str, Any]]:
    """All events of a run, in order (a line cut by a crash is skipped). With ``resolve_paths`` each event's
    ``video`` becomes a path that opens from the current directory (:func:`resolve_video`); without it, the
    text as stored."""
    events = list(iter_records(Path(out_dir) / TRACE_FILE))
    if resolve_paths:
        for event in events:
            if isinstance(event.get("video"), str) and event["video"]:
                event["video"] = str(resolve_video(out_dir, event["video"]))
    return events


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON through a temporary file and ``os.replace`` so readers never see half a file."""
    from aigve.results import write_text_atomic

    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def keep_best(video: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Copy ``video`` to ``out_dir/best.mp4`` (atomically, so a crash mid-copy keeps the previous best)."""
    dest = Path(out_dir) / BEST_FILE
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(video, tmp)
    os.replace(tmp, dest)
    return dest


def build_summary(prompt: str, rounds: list[dict[str, Any]], best_round: int | None, stop_rule: str,
                  stop_detail: str, objective_name: str, **context: Any) -> dict[str, Any]:
    """The run's summary from its round records (dicts with ``round``, ``status``, ``scores``, ``objective``,
    ``prompt``, ``video``). Gains compare round 0 with the best round; both must have been scored."""
    first = rounds[0] if rounds and rounds[0].get("status") == "ok" else None
    best = rounds[best_round] if best_round is not None else None
    summary: dict[str, Any] = {
        "prompt": prompt,
        "rounds_run": len(rounds),
        "stop_rule": stop_rule,
        "stop_detail": stop_detail,
        "best_round": best_round,
        "best_prompt": best["prompt"] if best else None,
        "best_video": BEST_FILE if best else None,
        "objective": {"name": objective_name,
                      **gain(first["objective"] if first else None, best["objective"] if best else None)},
        "aspects": aspect_gains(first["scores"] if first else {}, best["scores"] if best else {}),
        "history": [{"round": r["round"], "status": r["status"], "objective": r.get("objective"),
                     "scores": r.get("scores"), "prompt": r["prompt"]} for r in rounds],
    }
    summary.update(context)
    return summary


def aggregate(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Across prompts: mean relative and absolute objective gain (round 0 -> best), how many improved, and
    which stopping rules fired. Prompts whose relative gain is undefined (round-0 objective 0 or unscored) are
    left out of the relative mean and counted in ``without_relative_gain``."""
    rel = [s["objective"]["rel_gain"] for s in summaries if s["objective"]["rel_gain"] is not None]
    absolute = [s["objective"]["abs_gain"] for s in summaries if s["objective"]["abs_gain"] is not None]
    rules: dict[str, int] = {}
    for s in summaries:
        rules[s["stop_rule"]] = rules.get(s["stop_rule"], 0) + 1
    return {
        "prompts": len(summaries),
        "mean_relative_gain": round(sum(rel) / len(rel), 6) if rel else None,
        "mean_abs_gain": round(sum(absolute) / len(absolute), 6) if absolute else None,
        "without_relative_gain": len(summaries) - len(rel),
        "improved": sum(1 for a in absolute if a > 0),
        "stop_rules": rules,
    }
