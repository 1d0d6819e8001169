"""``aigve sanity INPUT``: does the judge look at the video and read the prompt? Controlled variants of every clip,
scored in one batched pass; per check and aspect, the share of clips that moved as the judge must."""

from __future__ import annotations

import argparse
import sys

from aigve.commands.options import add_backend_args, add_sampling_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sanity", help="check that a judge reacts to swapped prompts, frozen, reversed, degraded and resampled videos",
        description="Make controlled variants of each clip (prompt swapped, frozen, reversed, shuffled, black, noise, "
                    "blur, JPEG-crushed, duplicated, re-run, half/double frame rate, half resolution), score originals "
                    "and variants in one batched pass (at most clips x (1 + checks) scorings) and report, per check "
                    "and aspect, the share of clips that moved as expected with a 95% Wilson interval and a "
                    "pass/fail verdict. Writes sanity.md, sanity.html, metrics.json and scores.jsonl into --out; "
                    "variants go to --out/variants and are reused on a rerun. Exit status 1 when a check fails.")
    p.add_argument("input", nargs="?", help="video file, folder, or manifest (.csv, .jsonl, or .json list)")
    p.add_argument("--out", default="runs/sanity", help="output folder (default: %(default)s)")
    p.add_argument("--checks", default=None, metavar="A,B,...",
                   help="comma-separated checks to run (default: all; --list-checks shows them)")
    p.add_argument("--list-checks", action="store_true", help="list the registered checks and exit")
    p.add_argument("--batch-size", type=int, default=1, help="videos per model call (default: %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N clips")
    add_backend_args(p)
    add_sampling_args(p)
    p.set_defaults(func=run)


def _list_checks() -> int:
    from aigve.sanity.checks import resolve_checks

    for check in resolve_checks(None):
        print(f"{check.name:12s} {check.group:12s} {check.description}; {check.expectation.describe()}")
    return 0


def run(args: argparse.Namespace) -> int:
    from aigve.commands.options import check_sources, evaluator_from_args
    from aigve.errors import ConfigError
    from aigve.sanity.checks import resolve_checks
    from aigve.sanity.run import run_sanity

    if args.list_checks:
        return _list_checks()
    if not args.input:
        raise ConfigError("input", None, "give a video, a folder or a manifest (or --list-checks)")
    if args.batch_size < 1:
        raise ConfigError("--batch-size", args.batch_size, "must be >= 1")
    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit", args.limit, "must be >= 1")
    resolve_checks(args.checks)  # unknown names fail before a model loads
    check_sources(args)
    with evaluator_from_args(args) as evaluator:
        result = run_sanity(args.input, evaluator, checks=args.checks, out=args.out, batch_size=args.batch_size,
                            limit=args.limit, progress=lambda msg: print(msg, file=sys.stderr))
    width = max(len(c.name) for c in result.checks)
    for c in result.checks:
        shares = "; ".join(f"{a.aspect} {a.share:.2f} [{a.ci_low:.2f}, {a.ci_high:.2f}] n={a.n}"
                           for a in c.aspects if a.share is not None)
        print(f"{c.name:<{width}}  {c.verdict:<14s}  {shares or '-'}")
    if result.provenance:
        from aigve.report.provenance import console_note

        print(console_note(result.provenance), file=sys.stderr)
    print(f"wrote {result.files.get('markdown')}, {result.files.get('html')}, {result.files.get('metrics')}",
          file=sys.stderr)
    return 1 if any(c.verdict == "fail" for c in result.checks) else 0
