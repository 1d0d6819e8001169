"""``aigve leaderboard RESULTS...``: rank generators with prompt-clustered CIs and paired tests."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="rank video generators: means with CIs, rank intervals, paired tests",
                       description="Rank generators from aigve results files (JSONL, or CSV with aspect columns). "
                                   "The generator of a record is NAME of a NAME=results.jsonl argument, else the "
                                   "--by column of the record (manifest columns kept in its meta), else the "
                                   "file's name. Writes leaderboard.md, .html, .json, .csv and plots/.")
    p.add_argument("results", nargs="+", metavar="[NAME=]RESULTS", help="results files (one per generator, or "
                                                                          "several generators in one with --by)")
    p.add_argument("--by", default="generator", metavar="COLUMN", help="column naming the generator (default: %(default)s)")
    p.add_argument("--out", default="runs/leaderboard", help="output folder (default: %(default)s)")
    p.add_argument("--score-kind", choices=("auto", "expected", "integer"), default="auto",
                   help="rank on the judge's expected scores (digit probabilities) or its integer scores; auto: "
                        "expected when every record has them (default)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="prompt resamples (0: no CIs)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default: %(default)s)")
    p.add_argument("--examples", type=int, default=0, metavar="K",
                   help="show the K shared prompts where the two best generators differ most, with frames and comments")
    p.add_argument("--examples-aspect", default=None, metavar="ASPECT",
                   help="aspect for --examples (default: overall, else the mean of aspects)")
    p.add_argument("--examples-pair", default=None, metavar="A,B",
                   help="the two generators for --examples (default: the two best on that aspect)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--title", default="aigve leaderboard", help="document title")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aigve.errors import ConfigError
    from aigve.report.leaderboard import build_leaderboard, label

    if args.examples < 0:
        raise ConfigError("--examples", args.examples, "must be >= 0")
    if args.bootstrap < 0:
        raise ConfigError("--bootstrap", args.bootstrap, "must be >= 0")
    pair = None
    if args.examples_pair is not None:
        pair = tuple(x.strip() for x in args.examples_pair.split(","))
        if len(pair) != 2 or not all(pair) or pair[0] == pair[1]:
            raise ConfigError("--examples-pair", args.examples_pair, "give two different generators as A,B")
    lb = build_leaderboard(args.results, args.out, by=args.by, score_kind=args.score_kind, n_boot=args.bootstrap,
                           seed=args.seed, level=args.level, examples=args.examples,
                           examples_aspect=args.examples_aspect, examples_pair=pair, plots=not args.no_plots, title=args.title)
    data = lb.data
    for note in data["notes"]:
        print(f"note: {note}")
    headline = "mean" if "mean" in data["aspects"] else (data["aspects"][-1] if data["aspects"] else None)
    if headline:
        print(f"{label(headline)} ({data['settings']['score_kind']} scores):")
        for g, r in sorted(data["table"][headline].items(), key=lambda kv: (kv[1]["rank"] or 1e9, kv[0])):
            ci = "" if r["ci_low"] is None else f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
            rank = "-" if r["rank"] is None else f"{r['rank']:g}"
            mean = "undefined" if r["mean"] is None else f"{r['mean']:.3f}"
            print(f"  {rank:>4}  {g:<24} {mean}{ci}  (n={r['n']}, prompts={r['n_prompts']})")
    for line in data["indistinguishable"][:10]:
        print(f"  = {line}")
    print(f"leaderboard written to {lb.files['markdown']} and {lb.files['html']} (+ .json, .csv"
          f"{', plots/' if data.get('plots') else ''})")
    return 0
