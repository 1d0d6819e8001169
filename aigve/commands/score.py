"""``aigve score INPUT``: score a video, a folder or a manifest into results.jsonl + results.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigve.commands.options import (
    add_backend_args,
    add_sampling_args,
    backend_options,
    check_sources,
    evaluator_from_args,
    run_spec,
)
from aigve.sharding import add_shard_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score videos on the nine aspects",
                       description="Score a video file, a folder of videos, or a CSV/JSONL manifest "
                                   "(columns video, prompt, optional id).")
    p.add_argument("input", help="video file, folder, or manifest (.csv, .jsonl, or .json list)")
    p.add_argument("--prompt", default=None, help="prompt for a single video (or default for a folder)")
    p.add_argument("--out", default="runs/score",
                   help="output folder (results.jsonl, results.csv, run.json); default: %(default)s")
    p.add_argument("--resume", action="store_true", help="skip videos already scored in --out; retry failed ones")
    p.add_argument("--overwrite", action="store_true", help="discard earlier results in --out and start afresh")
    p.add_argument("--batch-size", type=int, default=1, help="videos per model call (default: %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N inputs")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--scores-only", action="store_true",
                   help="macs: read each aspect's score from the judge's digit probabilities in one forward pass "
                        "(no comments; see aigve.backends.scoreonly)")
    add_backend_args(p)
    add_sampling_args(p)
    add_shard_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aigve.backends.base import uses_prompt
    from aigve.errors import ConfigError
    from aigve.evaluator import check_backend_options
    from aigve.report.provenance import backend_problem, console_note
    from aigve.runner import collect_items, run_batch
    from aigve.sharding import rank_device, resolve_shard, run_sharded_from_args

    # Checked before the model loads or anything is written: a bad value found later would leave
    # probe-failure records behind that block a corrected rerun without --resume.
    if args.batch_size < 1:
        raise ConfigError("--batch-size", args.batch_size, "must be >= 1")
    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit", args.limit, "must be >= 1 (a negative value would silently drop the last inputs)")
    if args.overwrite and args.resume:
        raise ConfigError("--overwrite", True, "choose either --overwrite or --resume")
    if args.overwrite and resolve_shard(getattr(args, "shard", None)) is not None:
        # Ranks start at different times: one rank's clean-up would delete what another rank of the same
        # launch is already writing.
        raise ConfigError("--overwrite", True, "a sharded run cannot clear its folder safely from each rank; "
                                               "delete the --out folder before the launch, or use a new --out")
    if args.scores_only:
        if args.backend != "macs":
            raise ConfigError("--scores-only", args.backend, "works with --backend macs only")
        args.backend = "macs-scores"
    check_backend_options(args.backend, **backend_options(args))
    items = collect_items(args.input, prompt=args.prompt, uses_prompt=uses_prompt(args.backend))
    if args.limit is not None:
        items = items[: args.limit]
    rank_device(args)
    # Pre-flight: a model or adapter that cannot be found fails here, before --overwrite discards anything and
    # before any output file or progress bar exists.
    check_sources(args)
    # What decides the scores, recorded in run.json and compared on --resume (before any model loads)
    spec, settings = run_spec(args)
    if args.overwrite:
        _discard_results(Path(args.out))
    _make_out_dir(Path(args.out))
    built: list = []

    def evaluator():  # built after the probe, so bad inputs are reported before a model loads
        if not built:
            built.append(evaluator_from_args(args))
        return built[0]

    try:
        summary = run_sharded_from_args(args, evaluator, items, spec=spec, settings=settings) or run_batch(
            evaluator, items, args.out, resume=args.resume, batch_size=args.batch_size, progress=not args.no_progress,
            spec=spec, settings=settings)
    finally:
        if built:
            built[0].close()  # stops decode worker processes, if any
    print_means(summary.out_dir / "results.jsonl")
    print(summary.line())
    described = built[0].describe() if built else {}
    if described.get("overall_kind"):  # signals: its overall is no judge's overall, and may be uncalibrated
        print(f"note: {described['name']} judges {', '.join(described.get('judged_aspects', []))}; its overall is "
              f"{described['overall_kind']}; {described.get('calibration_status', 'calibration unknown')}",
              file=sys.stderr)
    problem = backend_problem(described) if built else None
    if problem:
        print(console_note(problem), file=sys.stderr)
    if summary.failed:
        print_failures(summary, {it.id for it in items})
        return 1
    return 0


def print_failures(summary, ids: set[str], limit: int = 10) -> None:
    """On stderr: how many videos failed, one line per failure of this run (``limit`` at most), and the file
    with the full records. ``ids``: the inputs of this run (older failures outside them are not listed)."""
    from aigve.results import iter_records, latest_by_id

    path = shown = summary.out_dir / "results.jsonl"
    if getattr(summary, "rank", None) is not None:  # a shard: its own file holds its records (merged or not)
        from aigve.sharding import results_path

        path = results_path(summary.out_dir, summary.rank)
        shown = summary.merged or path
    records = latest_by_id(iter_records(path)).values() if path.exists() else []
    failures = [r for r in records if r.get("error") is not None and str(r.get("id")) in ids]
    print(f"{summary.failed} video(s) failed:", file=sys.stderr)
    for record in failures[:limit]:
        print(failure_line(record), file=sys.stderr)
    if len(failures) > limit:
        print(f"  ... and {len(failures) - limit} more", file=sys.stderr)
    print(f"see the 'error' field of each in {shown}", file=sys.stderr)


def failure_line(record: dict, width: int = 200) -> str:
    """``"  <id>: <error message>"`` on one line, the message cut to ``width`` characters."""
    error = record.get("error") or {}
    message = " ".join(str(error.get("message") or error.get("type") or "unknown error").split())
    if len(message) > width:
        message = message[: width - 3] + "..."
    from aigve.errors import console_safe

    return f"  {console_safe(record.get('id'))}: {console_safe(message)}"


def print_means(results_path) -> None:
    """Print the mean score per aspect over the successful records of a results file."""
    from aigve.aspects import ASPECTS
    from aigve.results import iter_records, latest_by_id

    if not results_path.exists():
        return
    records = [r for r in latest_by_id(iter_records(results_path)).values() if r.get("error") is None]
    if not records:
        return
    print(f"{'aspect':<20} {'mean':>5} {'n':>4}")
    for aspect in ASPECTS:
        values = [r["scores"].get(aspect.key) for r in records]
        values = [v for v in values if v is not None]
        mean = f"{sum(values) / len(values):5.2f}" if values else "    -"
        print(f"{aspect.key:<20} {mean} {len(values):>4}")


def _make_out_dir(out: Path) -> None:
    """Create --out before a model loads, so an unusable folder fails at once with its name (not a traceback)."""
    from aigve.errors import InputError

    if out.exists() and not out.is_dir():
        raise InputError(out, "is a file, not a folder; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(out, f"cannot create the --out folder ({exc.strerror or exc}); choose another --out") from None


def _discard_results(out: Path) -> None:
    """Remove what a previous run wrote in ``out`` (results, per-shard files, csv, run info)."""
    for pattern in ("results.jsonl", "results.csv", "run.json", "results.rank*.jsonl", "shard.rank*.json"):
        for path in out.glob(pattern):
            path.unlink()
