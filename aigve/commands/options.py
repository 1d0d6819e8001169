"""Command-line options shared by subcommands that build an evaluator (score, bench, refine, app)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aigve.config import SAMPLING_STRATEGIES
from aigve.run.flags import backend_options, parse_key_values, sampling_from_args

__all__ = ["add_backend_args", "add_sampling_args", "backend_options", "check_sources", "evaluator_from_args",
           "parse_key_values", "run_spec", "sampling_from_args"]

DEFAULT_MODEL = "xiaoliux/AIGVE-MACS"


def add_backend_args(p: argparse.ArgumentParser, *, default_backend: str = "macs") -> None:
    from aigve.registry import BACKENDS  # names only: no backend module is imported

    g = p.add_argument_group("judge")
    g.add_argument("--backend", default=default_backend, metavar="NAME",
                   help=f"scoring backend, one of: {', '.join(BACKENDS.names())} (macs: the Qwen2.5-VL judge; "
                        f"macs-scores: macs reading scores only, as --scores-only; vllm: the judge served by vLLM; "
                        f"signals: pixel measurements, no weights; fake: tests); default: {default_backend}")
    g.add_argument("--model", default=None, help=f"macs: hub id or local checkpoint folder (default {DEFAULT_MODEL})")
    g.add_argument("--adapter", default=None, help="macs: LoRA adapter folder (peft) applied on top of --model")
    g.add_argument("--dtype", default=None, help="macs: auto, bfloat16, float16 or float32")
    g.add_argument("--device", default=None, help="macs: auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--attn", dest="attn_implementation", default=None, help="macs: sdpa, eager or flash_attention_2")
    g.add_argument("--max-new-tokens", type=int, default=None,
                   help="macs: generation cap (default: the judge profile's; 1500 for macs-card)")
    g.add_argument("--profile", default=None, metavar="NAME",
                   help="judge profile: how the judge is run (instruction, frames, size, spacing, decoding); "
                        "see `aigve profiles`. Default: the one recorded with --adapter/--model, else macs-card "
                        "(the released AIGVE-MACS usage)")
    g.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE",
                   help="any other backend option (repeatable); values parse as JSON when they can")


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("frame sampling")
    g.add_argument("--fps", type=float, default=None, help="target frames per second of video (default 1)")
    g.add_argument("--min-frames", type=int, default=None)
    g.add_argument("--max-frames", type=int, default=None)
    g.add_argument("--min-pixels", type=int, default=None, help="per-frame area floor in pixels")
    g.add_argument("--max-pixels", type=int, default=None, help="per-frame area cap in pixels")
    g.add_argument("--max-visual-tokens", type=int, default=None, help="visual-token budget per video")
    g.add_argument("--sampling", dest="strategy", choices=SAMPLING_STRATEGIES, default=None,
                   help="uniform, or motion (denser frames where content changes most)")
    g.add_argument("--decode-workers", choices=("thread", "process"), default="thread",
                   help="decode upcoming videos in background threads (default) or worker processes")


def evaluator_from_args(args: argparse.Namespace, **extra: Any):
    """The evaluator the flags describe. Loading weights can take minutes with nothing else to show, so for
    :data:`CHECKPOINT_BACKENDS` a line on stderr says what is loading and another how long it took
    (``tqdm.write``: a progress bar already drawn, such as score's, is redrawn below them, not broken)."""
    import time

    from tqdm.auto import tqdm

    from aigve.evaluator import load_evaluator
    from aigve.run.job import CHECKPOINT_BACKENDS

    extra.setdefault("workers", getattr(args, "decode_workers", "thread"))
    options = backend_options(args)
    loud = args.backend in CHECKPOINT_BACKENDS and not (args.backend == "vllm" and options.get("server_url"))
    if loud:
        tqdm.write(f"loading {options.get('model') or 'the default model'} (backend {args.backend}) ...",
                   file=sys.stderr)
    start = time.perf_counter()
    evaluator = load_evaluator(args.backend, sampling=sampling_from_args(args), **options, **extra)
    if loud:
        tqdm.write(f"model loaded in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return evaluator


def check_sources(args: argparse.Namespace) -> None:
    """Pre-flight of the model and adapter the flags name (:func:`aigve.run.job.check_sources`)."""
    from aigve.run.job import check_sources as check

    check(args.backend, backend_options(args))


def run_spec(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(spec, settings)`` of a scoring run, from the flags alone (no model is loaded): see
    :meth:`aigve.run.spec.RunSpec.describe`; settings also hold ``batch_size`` and ``decode_workers``."""
    from aigve.run.spec import RunSpec

    options = backend_options(args)
    profile = options.pop("profile", None) or getattr(args, "profile", None)
    spec, settings = RunSpec.describe(args.backend, options, sampling_from_args(args), profile=profile)
    return spec.to_dict(), {"batch_size": getattr(args, "batch_size", None),
                            "decode_workers": getattr(args, "decode_workers", None), **settings}
