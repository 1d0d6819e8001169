"""``aigve benchmark list | run NAME --data DIR --out DIR | table RUN...``: public judge benchmarks with their
official metrics (:mod:`aigve.benchmarks`)."""

from __future__ import annotations

import argparse

from aigve.commands.options import add_backend_args, add_sampling_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="run a judge on a public benchmark with its official metric",
                       description="List the benchmarks, run a judge on one (a resumable scoring run: "
                                   "results.jsonl, then metrics.json) or put several runs side by side.")
    bsub = p.add_subparsers(dest="benchmark_command", metavar="{list,run,table}", required=True)
    lp = bsub.add_parser("list", help="the benchmarks, their metric and expected files")
    lp.add_argument("--json", action="store_true", help="print JSON")
    lp.set_defaults(func=run_list)
    rp = bsub.add_parser("run", help="score a benchmark's videos and compute its metric",
                         description="Score the benchmark's videos with the judge (any judge option of "
                                     "`aigve score`), into OUT/results.jsonl (resumable), then write OUT/metrics.json.")
    rp.add_argument("name", help="benchmark name (see `aigve benchmark list`)")
    rp.add_argument("--data", required=True, metavar="DIR", help="the benchmark folder, as downloaded")
    rp.add_argument("--out", required=True, metavar="DIR", help="output folder")
    rp.add_argument("--mapping", default=None, metavar="NAME",
                    help="judge -> benchmark dimension mapping (aigve/benchmarks/data/mappings.json); default: "
                         "the entry of the judge's profile")
    rp.add_argument("--resume", action="store_true", help="keep the videos already scored in --out")
    rp.add_argument("--overwrite", action="store_true", help="discard earlier results in --out")
    rp.add_argument("--batch-size", type=int, default=1, help="videos per model call")
    rp.add_argument("--limit", type=int, default=None, help="score only the first N videos")
    rp.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for CIs (0: none)")
    rp.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    rp.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_backend_args(rp)
    add_sampling_args(rp)
    rp.set_defaults(func=run_benchmark)
    tp = bsub.add_parser("table", help="several benchmark runs side by side")
    tp.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or NAME=RUN to label a row)")
    tp.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    tp.set_defaults(func=run_table)


def run_list(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from aigve.benchmarks.loaders import INFO

    if args.json:
        print(json.dumps([asdict(i) for i in INFO.values()], indent=2))
        return 0
    for info in INFO.values():
        mark = "" if info.verified else "  (layout not verified: closest documented form)"
        print(f"{info.name:<22} {info.kind:<9} {info.metric}\n{'':<32} expects {info.layout}{mark}")
    return 0


def run_benchmark(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aigve.benchmarks import BENCHMARKS
    from aigve.benchmarks.run import compute, items, write_metrics
    from aigve.benchmarks.table import build, markdown
    from aigve.commands.options import backend_options, check_sources, evaluator_from_args, run_spec
    from aigve.errors import ConfigError
    from aigve.evaluator import check_backend_options
    from aigve.results import iter_records, latest_by_id
    from aigve.run.batch import score_folder
    from aigve.run.folder import RunFolder

    if args.overwrite and args.resume:
        raise ConfigError("--overwrite", True, "choose either --overwrite or --resume")
    loaded = BENCHMARKS.get(args.name)(args.data)
    if args.mapping is not None:
        from aigve.benchmarks.mapping import mapping_for

        mapping_for(None, args.mapping)  # unknown names fail before anything is scored
    from aigve.judges.profiles import compares_pairs

    todo = items(loaded, pairs=compares_pairs(args.profile))  # a pairwise judge scores the pairs, not the videos
    todo = todo[: args.limit] if args.limit else todo
    check_backend_options(args.backend, **backend_options(args))
    check_sources(args)
    spec, settings = run_spec(args)
    spec = {**spec, "benchmark": loaded.name}  # a resume into another benchmark's folder is refused
    out = Path(args.out)
    summary, _ = score_folder(lambda: evaluator_from_args(args), todo, out, overwrite=args.overwrite,
                              resume=args.resume, batch_size=args.batch_size, progress=not args.no_progress,
                              spec=spec, settings=settings)
    folder = RunFolder(out)
    records = list(latest_by_id(iter_records(folder.results)).values()) if folder.results.exists() else []
    result = compute(loaded, records, mapping=args.mapping, n_boot=args.bootstrap, seed=args.seed)
    path = write_metrics(result, out)
    print(summary.line())
    print(markdown(build([(result["judge"].get("profile") or args.backend, result)])), end="")
    print(f"metrics written to {path}")
    return 1 if summary.failed else 0


def run_table(args: argparse.Namespace) -> int:
    import json

    from aigve.benchmarks.table import build, markdown, read_run

    table = build([read_run(r) for r in args.runs])
    print(json.dumps(table, indent=2) if args.json else markdown(table), end="\n" if args.json else "")
    return 0
