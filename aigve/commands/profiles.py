"""``aigve profiles``: the judge profiles (how a judge is run), one line each, or their full content as JSON."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profiles", help="list the judge profiles (instruction, frames, size, spacing, decoding)")
    p.add_argument("--json", action="store_true", help="print every profile's full content and sha256 as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from aigve.judges.profiles import DEFAULT_PROFILE, get_profile
    from aigve.registry import PROFILES

    profiles = [get_profile(name) for name in PROFILES.names()]
    if args.json:
        print(json.dumps([{**p.describe(), "default": p.name == DEFAULT_PROFILE, "content": p.to_dict()}
                          for p in profiles], indent=2))
        return 0
    width = max(len(p.name) for p in profiles)
    for p in profiles:
        mark = " (default)" if p.name == DEFAULT_PROFILE else ""
        print(f"{p.name:<{width}}  {p.content_sha256()[:12]}  {p.summary}{mark}")
    return 0
