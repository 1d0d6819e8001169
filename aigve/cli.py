"""The ``aigve`` console script. Each subcommand lives in ``aigve/commands/<name>.py`` and exposes
``register(subparsers)`` (argparse only, no heavy imports) and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

COMMANDS = ("score", "probe", "report", "train", "refine", "bench", "app", "testing", "merge_shards", "calibrate")


def build_parser() -> argparse.ArgumentParser:
    from aigve import __version__

    parser = argparse.ArgumentParser(prog="aigve", description="Evaluate AI-generated videos on nine aspects.")
    parser.add_argument("--version", action="version", version=f"aigve {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"aigve.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"aigve.commands.{name}":
                raise
            continue  # command not built yet
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in process; returns the exit code (0 ok, 1 some items failed, 2 usage/input error)."""
    from aigve.errors import AigveError

    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except AigveError as exc:
        print(f"aigve {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"aigve {args.command}: interrupted; everything written so far is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
