"""``aigve calibrate RESULTS HUMAN --out cal.json``: fit the signals backend's thresholds to human scores.

RESULTS is the results.jsonl of an ``aigve score --backend signals`` run (or its --out folder); HUMAN is a
human-score file in any format :func:`aigve.annotations.load_annotations` reads. The fitted calibration
is used with ``aigve score ... --backend signals --backend-option calibration=cal.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit the signals backend's score mapping to human scores",
                       description="Fit the monotone maps from signals measurements to 0-5 scores (isotonic "
                                   "regression) to human-scored videos and save them as JSON. RESULTS: "
                                   "results.jsonl of `aigve score --backend signals` (or its --out folder); "
                                   "HUMAN_FILE: human scores (AIGVE-Bench JSON, JSON list, JSONL or CSV), matched "
                                   "to results by id, then video file name, then file stem.")
    p.add_argument("results", metavar="RESULTS", help="results.jsonl of a signals run, or the run's --out folder")
    p.add_argument("human", metavar="HUMAN_FILE", help="human scores for (some of) the same videos")
    p.add_argument("--out", required=True, help="calibration JSON to write (e.g. cal.json)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--video-dir", default=None,
                   help="folder that relative video paths in HUMAN_FILE resolve against (default: its folder)")
    p.add_argument("--base", default=None,
                   help="calibration JSON to start from (default: the built-in thresholds); aspects with too "
                        "few human scores keep its maps, and 'before' figures are measured with it")
    p.add_argument("--min-samples", type=int, default=8,
                   help="fit an aspect only when at least this many videos have its human score (default 8)")
    p.add_argument("--output-only", action="store_true",
                   help="keep each measurement's curve and fit only the per-aspect output maps (fewer "
                        "parameters: safer with few videos)")
    p.set_defaults(func=run)


def results_path(path: str | Path) -> Path:
    """RESULTS as given: a file, or a run folder holding results.jsonl. Raises InputError when absent."""
    from aigve.errors import InputError

    path = Path(path)
    if path.is_dir():
        path = path / "results.jsonl"
    if not path.is_file():
        raise InputError(path, "results file not found; score the annotated videos first with "
                               "`aigve score VIDEOS --backend signals --out RUN` and pass RUN/results.jsonl")
    return path


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def stats_table(fit_stats: dict[str, dict[str, Any]]) -> list[str]:
    """Lines of a per-aspect table: pairs used, whether fitted, SRCC and MAE before/after (in-sample)."""
    lines = [f"{'aspect':<18} {'pairs':>5} {'fitted':>6} {'SRCC before':>11} {'SRCC after':>10} "
             f"{'MAE before':>10} {'MAE after':>9}"]
    for aspect, entry in fit_stats.items():
        before, after = entry.get("before") or {}, entry.get("after") or {}
        pairs = after.get("n", before.get("n", entry.get("n", 0)))
        fitted = "yes" if entry.get("fitted") else "no"
        lines.append(f"{aspect:<18} {pairs:>5} {fitted:>6} {_fmt(before.get('spearman')):>11} "
                     f"{_fmt(after.get('spearman')):>10} {_fmt(before.get('mae'), '.2f'):>10} "
                     f"{_fmt(after.get('mae'), '.2f'):>9}")
        if entry.get("why"):
            lines[-1] += f"  ({entry['why']})"
    return lines


def run(args: argparse.Namespace) -> int:
    from aigve.errors import ConfigError
    from aigve.run.folder import claim

    if args.min_samples < 2:
        raise ConfigError("--min-samples", args.min_samples, "use at least 2 (a monotone fit needs two points)")
    if Path(args.out).is_dir():  # before the fit, not after it
        raise ConfigError("--out", args.out, "is a folder; give a file name such as cal.json")
    with claim(args.out, overwrite=args.overwrite, what="calibration", is_dir=False):
        return _calibrate(args)


def _calibrate(args: argparse.Namespace) -> int:
    from aigve.errors import InputError
    from aigve.run.folder import writing
    from aigve.signals.calibration import Calibration
    from aigve.signals.fitting import calibrate_from_files

    results = results_path(args.results)
    base = Calibration.load(args.base) if args.base else None
    calibration = calibrate_from_files(results, args.human, None, video_dir=args.video_dir, base=base,
                                       min_samples=args.min_samples, fit_curves=not args.output_only)
    print(f"{calibration.source} (results: {results})")
    for line in stats_table(calibration.fit_stats):
        print(line)
    if not any(entry.get("fitted") for entry in calibration.fit_stats.values()):
        print(f"nothing fitted: every aspect has fewer than {args.min_samples} human scores; lower --min-samples "
              f"or score more annotated videos. {args.out} not written.", file=sys.stderr)
        return 1
    try:
        with writing(args.out):
            calibration.save(args.out)
    except OSError as exc:
        raise InputError(args.out, f"cannot write the calibration ({exc.strerror or exc}); choose another --out") \
            from None
    print("SRCC/MAE are in-sample (the pairs the fit was trained on) and flatter the calibration; "
          "hold videos out to judge it.")
    print(f"wrote {args.out} (fingerprint {calibration.fingerprint()}); use it with: "
          f"aigve score VIDEOS --backend signals --backend-option calibration={args.out}")
    return 0
