"""``aigve score INPUT``: score a video, a folder or a manifest into results.jsonl + results.csv."""

from __future__ import annotations

import argparse
import sys

from aigve.commands.options import add_backend_args, add_sampling_args
from aigve.run.job import build_evaluator
from aigve.sharding import add_shard_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score videos on the nine aspects",
                       description="Score a video file, a folder of videos, or a CSV/JSONL manifest "
                                   "(columns video, prompt, optional id). With --config, the settings come from a "
                                   "job file (YAML/JSON) or an earlier run's run.json; flags given override it.")
    p.add_argument("input", nargs="?", default=None,
                   help="video file, folder, or manifest (.csv, .jsonl, or .json list); optional with --config")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="job file (YAML or JSON: inputs, backend, backend_options, sampling, out, ...) or the "
                        "run.json of an earlier run to replay it")
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
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: score in this process (default); ray: a Ray Data pipeline (CPU decode tasks, a pool "
                        "of judge actors), same results folder and resume (needs the ray extra)")
    p.add_argument("--address", default=None,
                   help="--engine ray: the Ray cluster to join (e.g. auto, ray://HOST:10001); default: start a "
                        "local Ray")
    p.add_argument("--ray-actors", type=int, default=1,
                   help="--engine ray: judge actors, each holding one model (default: %(default)s; one per GPU)")
    p.add_argument("--ray-gpus-per-actor", type=float, default=None,
                   help="--engine ray: GPUs each actor reserves (default: 1 when CUDA is present, else 0)")
    p.add_argument("--ray-num-cpus", type=int, default=None,
                   help="--engine ray without --address: CPUs of the local Ray (default: all)")
    add_backend_args(p)
    add_sampling_args(p)
    add_shard_args(p)
    # The defaults, so a --config job can tell the flags given (which override it) from those left alone.
    # argparse keeps no record of which options were typed; its actions list is the one place defaults live.
    p.set_defaults(func=run, _defaults={a.dest: a.default for a in p._actions if a.dest not in ("help", "config")})


def job_from_args(args: argparse.Namespace):
    """The :class:`~aigve.run.job.ScoreJob` of this command line (``--config`` file first, flags on top)."""
    from aigve.errors import ConfigError
    from aigve.run.job import ScoreJob

    if args.config is None:
        if args.input is None:
            raise ConfigError("INPUT", None, "name a video file, folder or manifest to score, or pass --config FILE")
        return ScoreJob.from_args(args)
    return ScoreJob.from_args(args, base=ScoreJob.from_file(args.config))


def run(args: argparse.Namespace) -> int:
    return score(job_from_args(args))


def score(job) -> int:
    """Run ``job`` (a :class:`~aigve.run.job.ScoreJob`): the body of ``aigve score``. Every setting was checked
    when the job was built, before the model loads or anything is written: a bad value found later would leave
    probe-failure records behind that block a corrected rerun without --resume."""
    from aigve.report.provenance import backend_problem, console_note
    from aigve.run.batch import run_job

    outcome = run_job(job, build=lambda j: build_evaluator(j))  # looked up here: tests replace build_evaluator
    summary, items = outcome.summary, outcome.items
    print_means(summary.out_dir / "results.jsonl")
    print(summary.line())
    described = outcome.described or {}
    if described.get("overall_kind"):  # signals: its overall is no judge's overall, and may be uncalibrated
        print(f"note: {described['name']} judges {', '.join(described.get('judged_aspects', []))}; its overall is "
              f"{described['overall_kind']}; {described.get('calibration_status', 'calibration unknown')}",
              file=sys.stderr)
    problem = backend_problem(described) if outcome.described is not None else None
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
    from aigve.sharding import ShardSummary, results_path

    if isinstance(summary, ShardSummary):  # a shard: its own file holds its records (merged or not)

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
    """Print the mean score per aspect (the nine, or the judge profile's own) over the successful records of a
    results file."""
    from aigve.results import iter_records, latest_by_id, record_scores, score_columns

    if not results_path.exists():
        return
    records = [r for r in latest_by_id(iter_records(results_path)).values() if r.get("error") is None]
    if not records:
        return
    print(f"{'aspect':<20} {'mean':>5} {'n':>4}")
    for key in score_columns(records):
        values = [record_scores(r).get(key) for r in records]
        values = [v for v in values if v is not None]
        mean = f"{sum(values) / len(values):5.2f}" if values else "    -"
        print(f"{key:<20} {mean} {len(values):>4}")
