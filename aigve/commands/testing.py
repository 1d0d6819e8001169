"""``aigve testing build-tiny DIR``: write a tiny Qwen2.5-VL test checkpoint (random, or taught the format)."""

from __future__ import annotations

import argparse
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:
    from aigve.testing.tiny import TEACH_STEPS  # no torch import: safe at registration

    p = sub.add_parser("testing", help="offline test kit: tiny random-weight checkpoints (no download)")
    actions = p.add_subparsers(dest="testing_action", metavar="ACTION", required=True)
    b = actions.add_parser(
        "build-tiny", help="write a tiny random-weight Qwen2.5-VL checkpoint folder (about a second, ~1 MB)",
        description="Write a tiny random-weight Qwen2.5-VL checkpoint that loads like a real one "
                    "(e.g. `aigve score --model DIR`). Its outputs are noise: use it to test plumbing, never to judge. "
                    "With --teach it is first trained (about a minute on 2 CPU cores) on synthetic clips to answer every video with the "
                    "same parseable nine-aspect JSON (comments 'not a judge') and stop: for end-to-end runs.",
    )
    b.add_argument("dir", help="output folder (reused as is when it already holds the same build)")
    b.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    b.add_argument("--teach", action="store_true",
                   help="teach it the answer format (about a minute on 2 CPU cores; a progress bar shows the steps) "
                        "so it writes parseable answers and stops")
    b.add_argument("--teach-steps", type=int, default=None, metavar="N",
                   help=f"teaching steps of 4 synthetic requests (default {TEACH_STEPS}; fewer steps may not learn the format)")
    b.add_argument("--adapter", metavar="ADAPTER_DIR", help="also write a random LoRA adapter for it here")
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aigve.errors import ConfigError
    from aigve.testing.tiny import TEACH_STEPS, build_tiny_adapter, build_tiny_checkpoint

    if args.teach_steps is not None and not args.teach:
        raise ConfigError("--teach-steps", args.teach_steps, "it only applies with --teach; add --teach or drop it")
    steps = TEACH_STEPS if args.teach_steps is None else args.teach_steps
    if args.teach:  # the build takes a while: say so at once; a progress bar follows while it is taught
        print(f"building a tiny checkpoint and teaching it the answer format ({steps} steps) ...",
              file=sys.stderr, flush=True)
    start = time.perf_counter()
    path = build_tiny_checkpoint(args.dir, seed=args.seed, teach=args.teach, teach_steps=steps, progress=args.teach)
    print(f"tiny Qwen2.5-VL checkpoint{' (taught the answer format)' if args.teach else ''}: {path} "
          f"({time.perf_counter() - start:.1f} s)")
    if args.adapter:
        adapter = build_tiny_adapter(path, args.adapter, seed=args.seed)
        print(f"tiny LoRA adapter: {adapter}")
    if args.teach:
        print("warning: random weights taught to repeat one fixed answer for testing only; its scores and "
              "comments are placeholders, not a judge", file=sys.stderr)
    else:
        print("warning: random weights for testing only; its scores are noise, not a judge", file=sys.stderr)
    return 0
