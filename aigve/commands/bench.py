"""``aigve bench INPUT --model DIR``: the released usage and aigve's scoring paths side by side."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from aigve.commands.options import add_sampling_args, sampling_from_args


def register(sub: argparse._SubParsersAction) -> None:
    from aigve.bench.harness import DEFAULT_PATHS, PATH_LABELS

    p = sub.add_parser(
        "bench", help="time the released usage against aigve's default, batched, score-only and vLLM paths",
        description="Run every path on the same videos with the same weights, in one process, and print seconds "
                    "per video per stage, videos/s, generated tokens/s, peak memory and ratios to the released "
                    "usage as its model card runs it (path (a): 1 fps from t=0, frame files, qwen-vl-utils "
                    "476x840, the card's instruction, second_per_grid_ts 2.0, batch 1). With random weights (--random-init-arch, tiny test models) the scores are noise: "
                    "only the timings mean something.")
    p.add_argument("input", help="video file, folder, or manifest (.csv, .jsonl, or .json list)")
    p.add_argument("--model", default=None, help="checkpoint folder (Qwen2.5-VL family)")
    p.add_argument("--random-init-arch", default=None, metavar="ARCH",
                   help="instead of --model: build random weights with a real architecture's dimensions "
                        "(qwen2.5-vl-7b, qwen2.5-vl-3b); nothing is downloaded")
    p.add_argument("--arch-dir", default=None, help="where --random-init-arch writes its checkpoint "
                                                    "(default ~/.cache/aigve/random-ARCH)")
    p.add_argument("--arch-layers", type=int, default=None, help="scale --random-init-arch down: text layers")
    p.add_argument("--arch-vision-depth", type=int, default=None, help="scale down: vision blocks")
    p.add_argument("--arch-width-divisor", type=int, default=1, help="scale down: divide head counts and MLP widths")
    p.add_argument("--allow-full-size-on-cpu", action="store_true",
                   help="build and run a --random-init-arch at full size on a CPU (the 7B in float32: ~33 GB of RAM "
                        "and disk, hours); without it that is refused")
    p.add_argument("--paths", default=",".join(DEFAULT_PATHS),
                   help=f"comma-separated paths to run, of: {', '.join(PATH_LABELS)} (default: {','.join(DEFAULT_PATHS)})")
    p.add_argument("--batch-size", type=int, default=4, help="videos per model call on the batched and score-only paths")
    p.add_argument("--force-new-tokens", type=int, default=None,
                   help="generate exactly N tokens on every path (random-weight models stop at random places)")
    p.add_argument("--max-new-tokens", type=int, default=1500, help="generation cap on every path (released usage: 1500)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N videos")
    p.add_argument("--warmup", type=int, default=1, help="videos run once before timing (first-call costs)")
    p.add_argument("--prefetch", type=int, default=2, help="decode workers on the aigve paths")
    p.add_argument("--score-fill", choices=("placeholder", "greedy"), default="placeholder",
                   help="score-only slot filling (see aigve.backends.scoreonly)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads for every path (default: torch's, one per core; on a small CPU leave "
                        "room for the decode workers)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default="auto", help="auto (bfloat16 on GPU, float32 on CPU), bfloat16, float16, float32")
    p.add_argument("--attn", dest="attn_implementation", default=None, help="sdpa, eager or flash_attention_2")
    p.add_argument("--profile", default=None, metavar="NAME",
                   help="judge profile of the measured aigve paths (see `aigve profiles`; default: recorded with the "
                        "checkpoint, else macs-card); the reference path is always the released usage")
    p.add_argument("--json", dest="json_out", default=None,
                   help="write every figure and per-video record here (rewritten after each path, so a run stopped "
                        "part-way keeps the paths it finished; 'complete' says whether all ran)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table (for a README)")
    p.add_argument("--sanity", action="store_true",
                   help="after timing, run `aigve sanity` with the same loaded judge on the same videos and put its "
                        "summary under 'sanity' in --json (costs videos x (1 + checks) more scorings)")
    p.add_argument("--sanity-out", default="runs/bench-sanity", help="--sanity: report folder (default: %(default)s)")
    p.add_argument("--sanity-checks", default=None, metavar="A,B,...", help="--sanity: checks to run (default: all)")
    g = p.add_argument_group("service (--serve)")
    g.add_argument("--serve", action="store_true",
                   help="instead of the paths: time `aigve serve` (throughput, p50/p95 latency) at each of "
                        "--serve-clients concurrencies next to in-process scoring of the same videos, with the "
                        "--serve-backend judge (no --model needed for fake or signals)")
    g.add_argument("--serve-backend", default="fake", metavar="NAME",
                   help="--serve: the backend to serve (default fake; macs uses --model)")
    g.add_argument("--serve-clients", default="1,4,16", metavar="N,N,...",
                   help="--serve: client concurrency levels (default 1,4,16)")
    g.add_argument("--serve-requests", type=int, default=64, help="--serve: requests per level (default 64)")
    g.add_argument("--max-batch", type=int, default=8, help="--serve: videos per judge call (default 8)")
    add_sampling_args(p)
    p.set_defaults(func=run)


def run_serve(args: argparse.Namespace, items: list) -> int:
    """``aigve bench --serve``: the service table (see :mod:`aigve.bench.serve`)."""
    from aigve.bench.serve import in_process, render, served
    from aigve.core import provenance
    from aigve.core import validate as v
    from aigve.errors import ConfigError
    from aigve.run.job import ScoreJob, build_evaluator

    try:
        levels = [v.positive_int("--serve-clients", int(x), high=4096) for x in args.serve_clients.split(",") if x]
    except ValueError:
        raise ConfigError("--serve-clients", args.serve_clients, "give whole numbers separated by commas, e.g. 1,4,16"
                          ) from None
    options = {"model": args.model, "device": args.device, "dtype": args.dtype} if args.serve_backend == "macs" else {}
    job = ScoreJob(inputs=args.input, backend=args.serve_backend, sampling=sampling_from_args(args),
                   backend_options={k: val for k, val in options.items() if val is not None}, progress=False)
    judge = build_evaluator(job)
    note = provenance.banner(provenance.of_backend(judge.describe()))
    if note:
        print(note, file=sys.stderr)
    list(judge.evaluate_many(items[:1]))  # first-call costs (imports, decoder start) out of every row
    rows = in_process(judge, items, args.serve_requests, args.max_batch)
    rows += served(judge, items, levels, args.serve_requests, max_batch=args.max_batch)
    print(f"{len(items)} videos, {args.serve_requests} requests per row, backend {args.serve_backend}, "
          f"max batch {args.max_batch}")
    print(render(rows))
    if args.json_out:
        from aigve.results import write_text_atomic

        _check_json_out(Path(args.json_out))
        write_text_atomic(args.json_out, json.dumps({"serve": rows, "backend": judge.describe()}, indent=2,
                                                    default=str))
    judge.close()
    return 0


def _model_dir(args: argparse.Namespace) -> str:
    from aigve.errors import ConfigError

    if bool(args.model) == bool(args.random_init_arch):
        raise ConfigError("--model", args.model, "give exactly one of --model DIR or --random-init-arch ARCH")
    if args.model:
        return args.model
    from aigve.backends.hf_checkpoint import resolve_device
    from aigve.testing.arch import build_random_checkpoint, check_full_size_on_cpu

    device = resolve_device(args.device)
    dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")
    check_full_size_on_cpu(args.random_init_arch, device, dtype, layers=args.arch_layers,
                           vision_depth=args.arch_vision_depth, width_divisor=args.arch_width_divisor,
                           allow=args.allow_full_size_on_cpu)  # before anything is built
    folder = args.arch_dir or Path.home() / ".cache" / "aigve" / f"random-{args.random_init_arch}"
    print(f"building random-weight {args.random_init_arch} at {folder} (not an evaluation model)", file=sys.stderr)
    return str(build_random_checkpoint(args.random_init_arch, folder, dtype=dtype, device=device,
                                       layers=args.arch_layers, vision_depth=args.arch_vision_depth,
                                       width_divisor=args.arch_width_divisor))


def _check_json_out(path: Path) -> None:
    """Fail before the (long) bench runs, not after it, when --json cannot be written."""
    import os

    from aigve.errors import InputError

    if path.is_dir():
        raise InputError(path, "is a folder; give --json a file name such as bench.json")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(path.parent, f"cannot create the folder for --json ({exc.strerror or exc})") from None
    if not os.access(path.parent, os.W_OK):
        raise InputError(path.parent, "folder is not writable; choose another --json path")


def run(args: argparse.Namespace) -> int:
    from aigve.bench.harness import BenchConfig, run_bench
    from aigve.bench.table import render_markdown, render_table
    from aigve.results import write_text_atomic
    from aigve.run.folder import claim, writing
    from aigve.runner import collect_items

    if args.profile is not None:
        from aigve.registry import PROFILES

        PROFILES.get(args.profile)  # unknown names: "did you mean", before any model loads
    items = collect_items(args.input)
    if args.limit is not None:
        items = items[: args.limit]
    if args.serve:
        return run_serve(args, items)
    if args.json_out:
        _check_json_out(Path(args.json_out))

    def save(report: dict) -> None:
        if args.json_out:  # atomic: a run killed mid-write keeps the previous, complete file
            with writing(args.json_out):
                write_text_atomic(args.json_out, json.dumps(report, indent=2, default=str))

    sanity = None
    if args.sanity:
        from aigve.sanity.checks import resolve_checks

        resolve_checks(args.sanity_checks)  # unknown names fail before the model loads

        def sanity(evaluator):
            from aigve.sanity.run import run_sanity

            return run_sanity(items, evaluator, checks=args.sanity_checks, out=args.sanity_out,
                              batch_size=args.batch_size, progress=lambda msg: print(msg, file=sys.stderr)).summary()

    with contextlib.ExitStack() as stack:
        if args.json_out:  # the same lock and overwrite rule as every output, before any model loads
            stack.enter_context(claim(args.json_out, overwrite=args.overwrite, what="bench report", is_dir=False,
                                      setting="json_out"))
        config = BenchConfig(
            model=_model_dir(args), paths=tuple(p.strip() for p in args.paths.split(",") if p.strip()),
            batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, force_new_tokens=args.force_new_tokens,
            device=args.device, dtype=args.dtype, attn_implementation=args.attn_implementation,
            sampling=sampling_from_args(args), prefetch=args.prefetch, warmup=args.warmup,
            score_fill=args.score_fill, threads=args.threads, profile=args.profile)
        report = run_bench(items, config, progress=lambda msg: print(msg, file=sys.stderr),
                           on_path=lambda partial: save(partial.to_dict()), sanity=sanity).to_dict()
        if args.json_out:
            save(report)
    print(render_markdown(report) if args.markdown else render_table(report))
    if args.json_out:
        print(f"wrote {args.json_out}", file=sys.stderr)
    return 0 if all(p["status"] != "failed" for p in report["paths"]) else 1
