"""The allowed range of every numeric CLI option, checked in one place before a command runs, and the one
mapping from library setting names to CLI flag names.

Why a table here rather than a ``type=`` on each ``add_argument``: argparse's ``float`` accepts ``inf`` and
``nan`` and its ``int`` accepts any size, so every option needed the same guard; one table (checked by
:func:`check_numeric_args` for every command, after parsing and before anything loads) means a new option can
not forget it. An option missing from the table still gets the generic guard (a finite number, an integer of
a sane size); ``tests/test_numeric_options.py`` drives every int/float option of every command with
inf/NaN/huge/negative/garbage values.

Errors are :class:`~aigve.errors.ConfigError` naming the flag (``invalid --fps=inf: must be a finite number
in (0, 1000]``), printed as one line with exit 2 by :func:`aigve.cli.run_guarded`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from aigve.core import validate as v
from aigve.errors import ConfigError

Check = Callable[[str, Any], Any]

_FRAMES_MAX = 100_000
_PIXELS_MAX = 10**9
_TOKENS_MAX = 10**7

#: dest -> check(name, value). ``None`` values (option not given) are never checked.
RANGES: dict[str, Check] = {
    # counts of things
    "batch_size": partial(v.positive_int, high=100_000),
    "limit": partial(v.positive_int),
    "max_new_tokens": partial(v.positive_int, high=_TOKENS_MAX),
    "force_new_tokens": partial(v.positive_int, high=_TOKENS_MAX),
    "min_frames": partial(v.positive_int, high=_FRAMES_MAX),
    "max_frames": partial(v.positive_int, high=_FRAMES_MAX),
    "min_pixels": partial(v.positive_int, high=_PIXELS_MAX),
    "max_pixels": partial(v.positive_int, high=_PIXELS_MAX),
    "max_visual_tokens": partial(v.positive_int, high=_TOKENS_MAX),
    "bootstrap": partial(v.non_negative_int, high=10**7),  # 0: no confidence intervals
    "rounds": partial(v.positive_int, high=100_000),
    "patience": partial(v.positive_int, high=100_000),
    "retries": partial(v.non_negative_int, high=1000),
    "arch_layers": partial(v.positive_int, high=1000),
    "arch_vision_depth": partial(v.positive_int, high=1000),
    "arch_width_divisor": partial(v.positive_int, high=4096),
    "warmup": partial(v.non_negative_int, high=100_000),
    "prefetch": partial(v.non_negative_int, high=1024),
    "threads": partial(v.positive_int, high=4096),
    "concurrency": partial(v.positive_int, high=4096),
    "max_batch_videos": partial(v.positive_int, high=10**6),
    "min_samples": partial(v.positive_int, high=10**9),
    "teach_steps": partial(v.positive_int, high=10**6),
    # seeds
    "seed": v.non_negative_int,  # the libraries seeded refuse what they cannot take, with their own range
    "seed_step": v.non_negative_int,
    # reals
    "fps": partial(v.positive, high=1000.0),
    "target": partial(v.finite, low=0.0, low_open=True, high=5.0),  # the judge's 0-5 scale
    "time_budget": partial(v.positive, high=10**8),  # seconds
    "max_upload_mb": partial(v.positive, high=10**6),
    "max_duration_s": partial(v.positive, high=10**7),
    "level": partial(v.finite, low=0.0, high=1.0, low_open=True, high_open=True),  # a confidence level
    "tie_margin": partial(v.non_negative, high=5.0),  # on the judge's 0-5 scale
    "examples": partial(v.non_negative_int, high=10_000),
    "queue_size": partial(v.positive_int, high=10**6),
    "ray_actors": partial(v.positive_int, high=4096),
    "ray_num_cpus": partial(v.positive_int, high=100_000),
    "ray_gpus_per_actor": partial(v.non_negative, high=64.0),
    "max_batch": partial(v.positive_int, high=10_000),  # serve: videos per judge call
    "max_wait_ms": partial(v.non_negative, high=60_000.0),  # serve: batch gathering window
    "timeout": partial(v.positive, high=10**6),  # serve: seconds per request
    "max_videos": partial(v.positive_int, high=10**5),  # serve: videos per request
    "idempotency_entries": partial(v.positive_int, high=10**7),
    "serve_requests": partial(v.positive_int, high=10**6),  # bench --serve: requests per concurrency level
    # network
    "port": partial(v.integer, low=1, high=65535),
}

#: library setting -> flag, where the flag is not simply the setting with dashes (``max_frames`` -> ``--max-frames``)
SETTING_FLAGS: dict[str, str] = {
    "generator_retries": "--retries",
    "allowed_dirs": "--allowed-dir",
    "override": "--set",
}


def _generic(action: argparse.Action) -> Check:
    # an option not in RANGES: a finite number, or an integer >= 0 of a sane size (a negative count, port,
    # seed or size is never meant); give it an entry in RANGES when it has a tighter or a signed range
    if action.type is float:
        return v.finite
    return v.non_negative_int


def numeric_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options of ``parser`` whose values are numbers (argparse ``type=int``/``type=float``)."""
    return [a for a in parser._actions if a.type in (int, float) and a.option_strings]


def chosen_parsers(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[argparse.ArgumentParser]:
    """``parser`` and the nested subcommand parsers ``args`` chose (``aigve testing build-tiny``)."""
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None) in action.choices:
            out += chosen_parsers(action.choices[getattr(args, action.dest)], args)
    return out


def check_numeric_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Raise ConfigError naming the flag for the first numeric option of ``args`` outside its range."""
    for action in (a for p in chosen_parsers(parser, args) for a in numeric_actions(p)):
        value = getattr(args, action.dest, None)
        if value is None or value == action.default:
            continue  # defaults are ours and valid; only what the user typed is checked
        flag = action.option_strings[-1]
        values = value if isinstance(value, list) else [value]
        for item in values:
            RANGES.get(action.dest, _generic(action))(flag, item)


def flag_names(parser: argparse.ArgumentParser | None) -> dict[str, str]:
    """setting name -> flag for one command's parser (``max_frames`` -> ``--max-frames``), plus
    :data:`SETTING_FLAGS` where they differ."""
    names: dict[str, str] = {}
    if parser is not None:
        for action in parser._actions:
            long = [s for s in action.option_strings if s.startswith("--")]
            if long:
                names.setdefault(action.dest, long[0])
    for setting, flag in SETTING_FLAGS.items():
        if parser is None or any(flag in a.option_strings for a in parser._actions):
            names.setdefault(setting, flag)
    return names


#: how library messages name a setting in their text: `skip_bad`, or with a value, `adapter=PATH`
_SETTING_REF = re.compile(r"`([a-z][a-z0-9_]*)(=[^`]*)?`")


def cli_message(exc: Exception, flags: Mapping[str, str]) -> str:
    """The message of ``exc`` as the CLI shows it: a ConfigError about a setting the command has a flag for
    names the flag (``invalid --max-frames=0: ...``) instead of the library's setting name, and a setting a
    library message names in backquotes (```skip_bad```, ```out=DIR```) becomes its flag (``--skip-bad``,
    ``--out DIR``); settings the command has no flag for keep their name."""
    def flag_for(match: re.Match) -> str:
        flag = flags.get(match.group(1))
        if flag is None:
            return match.group(0)
        return flag + (" " + match.group(2)[1:] if match.group(2) else "")

    text = str(exc)
    if isinstance(exc, ConfigError) and type(exc).__str__ is Exception.__str__:
        flag = flags.get(exc.field) if isinstance(exc.field, str) else None
        if flag and text.startswith(f"invalid {exc.field}="):
            text = f"invalid {flag}={exc.value!r}: {exc.fix}"
    return _SETTING_REF.sub(flag_for, text)
