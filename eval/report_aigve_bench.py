"""AIGVE-Bench agreement report: model scores vs the benchmark's human raters, by generator.

    # score files from `aigve score` (or CSVs) against an AIGVE-Bench annotation file
    python eval/report_aigve_bench.py --human AIGVE-Bench.json --scores macs=runs/macs/results.jsonl \\
        --scores mine=runs/mine/results.jsonl --out runs/aigve_bench_report

    # a released results dump holding the model's raw answers AND the human scores in one JSONL
    python eval/report_aigve_bench.py --outputs data/reference/aigve_macs_outputs_sample.jsonl --out runs/macs_report

A thin door onto :func:`aigve.report.build_report` (same as ``aigve report ... --group-by generator``).
Errors in the inputs are one ``report_aigve_bench.py: error: ...`` line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigve.cli import run_guarded

PROG = Path(__file__).name
DEFAULT_OUT = "runs/aigve_bench_report"  # runs/ is git-ignored


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--human", help="AIGVE-Bench annotation file (JSON, JSONL or CSV)")
    p.add_argument("--scores", action="append", default=[], metavar="[NAME=]PATH", help="score file; repeatable")
    p.add_argument("--outputs", metavar="PATH",
                   help="JSONL with raw model answers ('output') and human scores in each record")
    p.add_argument("--name", default="AIGVE-MACS", help="system name for --outputs")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--group-by", default="generator")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--zero-as-na", action="store_true")
    p.add_argument("--no-embeddings", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    from aigve.cli import build_parser as aigve_parser

    p = build_parser()
    args = p.parse_args(argv)

    scores, human = list(args.scores), args.human
    if args.outputs:
        scores.insert(0, f"{args.name}={Path(args.outputs)}")
        human = human or args.outputs
    if not scores or not human:
        p.error("give --outputs, or --human with at least one --scores")
    cli = ["report", "--human", str(human), "--out", args.out, "--group-by", args.group_by,
           "--bootstrap", str(args.bootstrap), "--seed", str(args.seed),
           "--title", "AIGVE-Bench: agreement with human raters"]
    for spec in scores:
        cli += ["--scores", spec]
    cli += ["--zero-as-na"] * args.zero_as_na + ["--no-embeddings"] * args.no_embeddings
    whole = aigve_parser()
    report = whole.parse_args(cli)  # the `aigve report` options, run under this script's name
    from aigve.commands.numeric import chosen_parsers, flag_names

    # messages name settings; this script's own flags win where both have one
    flags = {k: f for q in [*chosen_parsers(whole, report), p] for k, f in flag_names(q).items()}
    return run_guarded(PROG, lambda: report.func(report), flags=flags)


if __name__ == "__main__":
    sys.exit(main())
