"""``aigve testing build-tiny DIR``: write a tiny random-weight Qwen2.5-VL checkpoint for offline tests."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("testing", help="offline test kit: tiny random-weight checkpoints (no download)")
    actions = p.add_subparsers(dest="testing_action", metavar="ACTION", required=True)
    b = actions.add_parser(
        "build-tiny", help="write a tiny random-weight Qwen2.5-VL checkpoint folder (about a second, ~1 MB)",
        description="Write a tiny random-weight Qwen2.5-VL checkpoint that loads like a real one "
                    "(e.g. `aigve score --model DIR`). Its outputs are noise: use it to test plumbing, never to judge.",
    )
    b.add_argument("dir", help="output folder (reused as is when it already holds the same build)")
    b.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    b.add_argument("--adapter", metavar="ADAPTER_DIR", help="also write a random LoRA adapter for it here")
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aigve.testing.tiny import build_tiny_adapter, build_tiny_checkpoint

    path = build_tiny_checkpoint(args.dir, seed=args.seed)
    print(f"tiny Qwen2.5-VL checkpoint: {path}")
    if args.adapter:
        adapter = build_tiny_adapter(path, args.adapter, seed=args.seed)
        print(f"tiny LoRA adapter: {adapter}")
    print("warning: random weights for testing only; its scores are noise, not a judge", file=sys.stderr)
    return 0
