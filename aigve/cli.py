"""The ``aigve`` console script. Each subcommand lives in ``aigve/commands/<name>.py`` and exposes
``register(subparsers)`` (argparse only, no heavy imports) and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence

COMMANDS = ("score", "probe", "inputs", "profiles", "report", "leaderboard", "pairwise", "sanity", "train",
            "refine", "bench", "benchmark", "app", "serve", "testing", "merge_shards", "calibrate")


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


def run_guarded(prog: str, body: Callable[[], int | None], *, verbose: int = 0,
                flags: Mapping[str, str] | None = None) -> int:
    """Run ``body()`` and return its exit code, the error contract of every aigve entry point: an
    AigveError prints ``PROG: error: MESSAGE`` on stderr and returns 2; Ctrl-C returns 130 (what was written
    so far is kept). Used by :func:`main` and by the scripts in eval/ under their own names. ``flags``
    (setting -> CLI flag, from :func:`aigve.commands.numeric.flag_names`) makes a ConfigError about a
    setting name the flag the user typed: the library speaks of settings, only this layer of flags."""
    from aigve.commands.numeric import cli_message
    from aigve.errors import AigveError, NotARealEvaluationWarning

    logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    try:
        with warnings.catch_warnings():  # the commands print their own NOT A REAL EVALUATION note
            warnings.simplefilter("ignore", NotARealEvaluationWarning)
            code = int(body() or 0)
        sys.stdout.flush()  # a reader that left early is noticed here, not in the interpreter's exit flush
        return code
    except AigveError as exc:
        print(f"{prog}: error: {cli_message(exc, flags or {})}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; everything written so far is kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # a socket or a child's pipe broke: a real error, not a reader that has had enough
        return 141  # as a tool killed by SIGPIPE reports it (128 + 13); `... | head` ends quietly
    except OSError as exc:  # a full disk outside the writers that name their file (aigve.run.folder.writing)
        import errno

        if exc.errno != errno.ENOSPC:
            raise
        print(f"{prog}: error: no space left on device while writing {exc.filename or 'an output file'}; free "
              f"space and rerun", file=sys.stderr)
        return 2


def _stdout_closed() -> bool:
    """True when stdout's reader has gone (``aigve probe --json | head -2``). Then stdout is pointed at
    /dev/null, so the interpreter's own flush at exit does not print a second BrokenPipeError. SIGPIPE itself
    stays ignored (Python's default): restoring it would also kill the process on a closed *socket*."""
    try:
        sys.stdout.flush()
        return False
    except BrokenPipeError:
        pass
    except (OSError, ValueError):  # stdout already closed or replaced by something unflushable
        return False
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured in tests)
        pass
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in process; returns the exit code (0 ok, 1 some items failed, 2 usage/input error)."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    from aigve.commands.numeric import check_numeric_args, chosen_parsers, flag_names

    command = _subparser(parser, args.command)

    def body() -> int | None:
        check_numeric_args(command, args)  # inf, NaN, negative and absurd numbers stop here, before any load
        return args.func(args)

    flags = {k: f for p in reversed(chosen_parsers(command, args)) for k, f in flag_names(p).items()}
    return run_guarded(f"aigve {args.command}", body, verbose=args.verbose, flags=flags)


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise KeyError(name)


if __name__ == "__main__":
    raise SystemExit(main())
