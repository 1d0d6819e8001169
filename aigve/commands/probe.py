"""``aigve probe INPUT``: check every input video before any model is loaded."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="check that every input video can be read (no model needed)")
    p.add_argument("input", help="video file, folder, or manifest (.csv, .jsonl, or .json list)")
    p.add_argument("--json", action="store_true", help="print one JSON object per video")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aigve.runner import collect_items, probe_items

    report = probe_items(collect_items(args.input, prompt="", uses_prompt=False))  # probing reads no prompt
    from aigve.errors import console_safe

    for item, info in report.ok:
        # probe reads every packet to the end: a file cut short reports what is really there ("partial")
        status = "partial" if info.header_frames else "ok"
        if args.json:
            print(json.dumps({"id": item.id, "status": status, **info.to_dict(),
                              "decoded_fraction": info.decoded_fraction}))
        else:
            fps = f"{info.fps:.3f}" if info.fps else "?"
            dur = f"{info.duration_s:.2f}s" if info.duration_s else "?"
            cut = (f"; TRUNCATED: the header lists {info.header_frames} frames, {info.decoded_fraction:.0%} are there"
                   if info.header_frames else "")
            print(f"{status:<6} {console_safe(item.id)}: {info.num_frames} frames, {fps} fps, {dur}, "
                  f"{info.width}x{info.height}, {info.codec or '?'} ({info.decoder}){cut}")
    for item, exc in report.failed:
        if args.json:
            print(json.dumps({"id": item.id, "status": "error", "video": item.video, "error": str(exc)}))
        else:
            print(f"ERROR  {item.id}: {exc}")
    # With --json stdout carries the JSON lines alone (a reader parses every line); the summary is a message.
    print(f"{len(report.ok)} readable, {len(report.failed)} failed", file=sys.stderr if args.json else sys.stdout)
    return 1 if report.failed else 0
