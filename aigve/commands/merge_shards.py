"""``aigve merge-shards OUT``: merge results.rank*.jsonl of a sharded ``aigve score`` run into results.jsonl."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge-shards", help="merge the shards of a sharded score run",
                       description="Merge OUT/results.rank*.jsonl (from `aigve score --shard I/N --out OUT` or "
                                   "torchrun) into OUT/results.jsonl and results.csv, in manifest order.")
    p.add_argument("out", help="the --out folder the shards wrote to")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="merge even when a shard is missing or unfinished (the merged file is then partial)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aigve.sharding import merge_shards

    path = merge_shards(args.out, allow_incomplete=args.allow_incomplete)
    with open(path, encoding="utf-8") as fh:
        n = sum(1 for line in fh if line.strip())
    print(f"merged {n} record(s) into {path}")
    return 0
