"""Scoring throughput: the released usage vs aigve's paths, thread vs process decoding, and KV-cache reuse.

    .venv/bin/python benchmarks/bench_scoring.py [MANIFEST] [--model DIR] [--force-new-tokens 64]
        [--batch-size 4] [--repeats 1] [--json OUT]

MANIFEST defaults to data/clips/manifest.csv (11 LaVie clips). Without --model a tiny random-weight
Qwen2.5-VL is built offline (aigve.testing.tiny); its scores are noise, only the timings mean anything.
Prints:

1. the ``aigve bench`` table (reference, default, batched, batched with process decoding, score-only, vLLM),
   repeated ``--repeats`` times (the best videos/s of each path is kept: other load on the machine only ever
   slows a run down), and the two CPU targets of issue #8 (aigve default non-model share <= 20 %; aigve
   batched >= 2x the reference's videos/s) as met / not met;
2. KV-cache reuse: three aspect subsets of every video scored with one prefix per video vs three full passes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from aigve.bench.harness import BenchConfig, run_bench
from aigve.bench.table import render_table
from aigve.runner import collect_items

PATHS = ("reference", "default", "batched", "batched-processes", "scores-only", "vllm")
ASPECT_SETS = (["technical_quality", "dynamic", "consistency"], ["physics", "element_presence", "element_quality"],
               ["action_presence", "action_quality", "overall"])


def best_of(reports: list[dict]) -> dict:
    """Per path, the repeat with the highest videos/s (ratios recomputed against the best reference)."""
    best = dict(reports[0])
    paths = []
    for i, p in enumerate(reports[0]["paths"]):
        runs = [r["paths"][i] for r in reports if r["paths"][i].get("videos_per_s")]
        paths.append(max(runs, key=lambda q: q["videos_per_s"]) if runs else p)
    ref = next((p for p in paths if p["name"] == "reference" and p.get("videos_per_s")), None)
    for p in paths:
        if ref and p.get("videos_per_s"):
            p["speedup_vs_reference"] = p["videos_per_s"] / ref["videos_per_s"]
            p["rss_vs_reference"] = p["peak_rss_mib"] / ref["peak_rss_mib"]
    best["paths"] = paths
    return best


def targets(report: dict) -> list[str]:
    by = {p["name"]: p for p in report["paths"]}
    lines = []
    if by.get("default", {}).get("overhead_fraction") is not None:
        share = by["default"]["overhead_fraction"]
        ref = by.get("reference", {}).get("overhead_fraction")
        lines.append(f"aigve default non-model share {share:.0%} (target <= 20%; reference "
                     f"{'-' if ref is None else f'{ref:.0%}'}): {'met' if share <= 0.20 else 'NOT met'}")
    if by.get("batched", {}).get("speedup_vs_reference") is not None:
        x = by["batched"]["speedup_vs_reference"]
        lines.append(f"aigve batched {x:.2f}x the reference's videos/s (target >= 2x): {'met' if x >= 2 else 'NOT met'}")
    procs, threads = by.get("batched-processes", {}), by.get("batched", {})
    if procs.get("videos_per_s") and threads.get("videos_per_s"):
        lines.append(f"decode in processes vs threads (batched): {procs['videos_per_s'] / threads['videos_per_s']:.2f}x "
                     f"videos/s ({procs['peak_rss_mib']:.0f} vs {threads['peak_rss_mib']:.0f} MiB peak RSS)")
    return lines


def kv_reuse(model: str, items: list, batch_size: int, sampling: dict) -> str:
    from aigve.backends.base import default_sampling
    from aigve.backends.scoreonly import ScoreOnlyBackend
    from aigve.video import load_video

    backend = ScoreOnlyBackend(model)
    cfg = default_sampling(backend, sampling)
    videos = [load_video(it.video, cfg) for it in items]
    prompts = [it.prompt for it in items]
    chunks = [slice(i, i + batch_size) for i in range(0, len(videos), batch_size)]
    backend.score_aspect_sets(videos[:1], prompts[:1], ASPECT_SETS)  # warm-up
    start = time.perf_counter()
    for c in chunks:
        backend.score_aspect_sets(videos[c], prompts[c], ASPECT_SETS)
    reuse = time.perf_counter() - start
    subsets = [ScoreOnlyBackend.from_backend(backend, aspects=s) for s in ASPECT_SETS]
    start = time.perf_counter()
    for c in chunks:
        for b in subsets:
            b.score(videos[c], prompts[c])
    plain = time.perf_counter() - start
    return (f"KV reuse, {len(ASPECT_SETS)} aspect subsets x {len(videos)} videos: {reuse:.2f} s with one prefix per "
            f"video vs {plain:.2f} s without ({plain / reuse:.2f}x)")


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[1]
    default = (Path(os.environ["AIGVE_SHARED"]) / "videos" if os.environ.get("AIGVE_SHARED")
               else repo / "data" / "clips") / "manifest.csv"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", nargs="?", default=str(default))
    ap.add_argument("--model", default=None, help="checkpoint folder (default: build the tiny random model)")
    ap.add_argument("--force-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--json", dest="json_out", default=None)
    args = ap.parse_args(argv)
    model = args.model
    if model is None:
        from aigve.testing.tiny import build_tiny_checkpoint

        model = str(build_tiny_checkpoint(Path(tempfile.gettempdir()) / "aigve-bench-tiny"))
        print(f"tiny random-weight model at {model} (timings only; scores are noise)", file=sys.stderr)
    items = collect_items(args.manifest)[: args.limit]
    config = BenchConfig(model=model, paths=tuple(args.paths.split(",")), batch_size=args.batch_size,
                         force_new_tokens=args.force_new_tokens, threads=args.threads)
    reports = [run_bench(items, config, progress=lambda m: print(m, file=sys.stderr)).to_dict()
               for _ in range(max(1, args.repeats))]
    report = best_of(reports)
    print(render_table(report))
    print()
    for line in targets(report):
        print(line)
    print(kv_reuse(model, items, args.batch_size, {}))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"best": report, "runs": reports}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
