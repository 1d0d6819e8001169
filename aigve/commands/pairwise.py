"""``aigve pairwise MANIFEST``: which of two videos per prompt the judge prefers; accuracy against labels."""

from __future__ import annotations

import argparse

from aigve.commands.options import add_backend_args, add_sampling_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pairwise", help="pairwise preferences between videos of one prompt (+ accuracy vs labels)",
                       description="Score both videos of every pair with the judge (per-video results in "
                                   "OUT/results.jsonl, resumable) and prefer the higher-scored one per aspect and "
                                   "overall. Manifest (CSV/JSONL): a, b, prompt, optional id, label in {a, b, tie}, "
                                   "label_<aspect>. With labels: VideoGen-RewardBench accuracy with ties "
                                   "(tie-calibrated) and without ties. A pairwise judge profile (--profile "
                                   "unifiedreward-video) sees both videos at once and is asked both ways.")
    p.add_argument("manifest", help="pairs manifest (.csv or .jsonl)")
    p.add_argument("--out", default="runs/pairwise", help="output folder (default: %(default)s)")
    p.add_argument("--tie-margin", type=float, default=0.0, metavar="M",
                   help="|score_a - score_b| <= M is a tie (default: %(default)s)")
    p.add_argument("--score-kind", choices=("auto", "expected", "integer"), default="auto",
                   help="compare expected (digit-probability) or integer scores; auto: expected when every "
                        "record has them (default)")
    p.add_argument("--resume", action="store_true", help="keep the videos already scored in --out")
    p.add_argument("--overwrite", action="store_true", help="discard earlier results in --out")
    p.add_argument("--batch-size", type=int, default=1, help="videos per model call")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_backend_args(p)
    add_sampling_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aigve.commands.options import backend_options, check_sources, evaluator_from_args, run_spec
    from aigve.core.validate import non_negative, positive_int
    from aigve.errors import ConfigError
    from aigve.evaluator import VideoItem, check_backend_options
    from aigve.report.pairwise import read_pairs, write_pairwise
    from aigve.results import iter_records, latest_by_id
    from aigve.run.batch import score_folder

    non_negative("tie_margin", args.tie_margin)
    positive_int("batch_size", args.batch_size)
    if args.overwrite and args.resume:
        raise ConfigError("--overwrite", True, "choose either --overwrite or --resume")
    pairs, videos = read_pairs(args.manifest)
    check_backend_options(args.backend, **backend_options(args))
    check_sources(args)
    spec, settings = run_spec(args)
    out = Path(args.out)
    from aigve.judges.profiles import compares_pairs

    both_ways = compares_pairs(args.profile)  # a judge shown both videos is asked about each pair both ways
    if both_ways:
        from aigve.report.pairwise import order_items

        items = [VideoItem(i, first, prompt, second=second) for i, first, second, prompt in order_items(pairs, videos)]
    else:
        items = [VideoItem(vid, path, prompt) for vid, (path, prompt) in videos.items()]
    summary, _ = score_folder(lambda: evaluator_from_args(args), items, out, overwrite=args.overwrite,
                              resume=args.resume, batch_size=args.batch_size, progress=not args.no_progress,
                              spec=spec, settings=settings)
    records = list(latest_by_id(iter_records(out / "results.jsonl")).values())
    result = write_pairwise(pairs, records, out, tie_margin=args.tie_margin, score_kind=args.score_kind)
    what = f"{len(items)} requests (both orders)" if both_ways else f"{len(items)} videos"
    print(f"{len(pairs)} pairs, {what} ({summary.failed} failed); compared on {result['score_kind']} "
          f"scores, tie margin {args.tie_margin:g}")
    for aspect, acc in result["accuracy"].items():
        with_t = "undefined" if acc["accuracy_with_ties"] is None else f"{acc['accuracy_with_ties']:.3f}"
        wo = "undefined" if acc["accuracy_without_ties"] is None else f"{acc['accuracy_without_ties']:.3f}"
        print(f"  {aspect:<20} accuracy with ties {with_t} (epsilon {acc['epsilon']}), without ties {wo}, "
              f"n={acc['n']}")
    print(f"pairwise results written to {out / 'pairwise.md'} (+ pairwise.json, pairwise.csv, results.jsonl)")
    return 1 if summary.failed else 0
