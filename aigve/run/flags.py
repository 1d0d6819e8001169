"""Reading the judge and sampling settings of a parsed command line (an ``argparse.Namespace`` or anything with
the same attributes) into plain option dicts. Lives in the run room, not in ``aigve.commands``, so that
:meth:`aigve.run.job.ScoreJob.from_args` (the one reader of a command line) imports nothing above it; the
flags themselves are declared in :mod:`aigve.commands.options`."""

from __future__ import annotations

from typing import Any

from aigve.errors import ConfigError


def sampling_from_args(args: Any) -> dict[str, Any]:
    """Only the sampling fields the user set; backend defaults fill the rest."""
    names = ("fps", "min_frames", "max_frames", "min_pixels", "max_pixels", "max_visual_tokens", "strategy")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def parse_key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (JSON values when they parse)."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(flag, pair, "use KEY=VALUE")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


def backend_options(args: Any) -> dict[str, Any]:
    """Backend keyword options from the judge flags (only those the user set)."""
    opts = parse_key_values(args.backend_option, "--backend-option")
    for name in ("model", "adapter", "dtype", "device", "attn_implementation"):
        if getattr(args, name, None) is not None:
            opts[name] = getattr(args, name)
    if getattr(args, "max_new_tokens", None) is not None:
        opts.setdefault("generation", {})["max_new_tokens"] = args.max_new_tokens
    if getattr(args, "profile", None) is not None:
        from aigve.backends.base import spec_defaults
        from aigve.registry import BACKENDS, PROFILES

        PROFILES.get(args.profile)  # unknown names: "did you mean", before any model loads
        if not spec_defaults(BACKENDS.get(args.backend)).profiled:
            raise ConfigError("profile", args.profile, f"the {args.backend} backend takes no judge profile; "
                                                       f"use a backend that runs a judge (macs, macs-scores, vllm)")
        opts["profile"] = args.profile
    return opts
