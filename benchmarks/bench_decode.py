"""Seconds per clip to probe + plan + decode, decord vs PyAV, at the default SamplingConfig.

    .venv/bin/python benchmarks/bench_decode.py [VIDEO_DIR] [--repeats 3] [--strategy uniform|motion]

VIDEO_DIR defaults to data/clips (the 11 LaVie clips; $AIGVE_SHARED/videos when AIGVE_SHARED is set). Prints one line per clip and decoder
(median of the repeats, after one warm-up pass) and a summary; also checks both decoders return
identical pixels.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from aigve.config import SamplingConfig
from aigve.video import decord_available, is_video_path, load_video


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[1]
    default_dir = Path(os.environ["AIGVE_SHARED"]) / "videos" if os.environ.get("AIGVE_SHARED") else repo / "data" / "clips"
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video_dir", nargs="?", type=Path, default=default_dir)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--strategy", choices=("uniform", "motion"), default="uniform")
    args = ap.parse_args(argv)
    paths = sorted(p for p in args.video_dir.iterdir() if is_video_path(p))
    if not paths:
        print(f"no videos in {args.video_dir}", file=sys.stderr)
        return 1
    cfg = SamplingConfig(strategy=args.strategy)
    decoders = ["decord", "pyav"] if decord_available() else ["pyav"]
    print(f"{len(paths)} clips in {args.video_dir}; strategy={cfg.strategy} fps={cfg.fps} "
          f"frames={cfg.min_frames}..{cfg.max_frames}; median of {args.repeats} after a warm-up")
    totals: dict[str, list[float]] = {d: [] for d in decoders}
    for path in paths:
        frames = {}
        for decoder in decoders:
            load_video(path, cfg, decoder=decoder)  # warm-up: file cache, decoder libraries
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                v = load_video(path, cfg, decoder=decoder)
                times.append(time.perf_counter() - start)
            frames[decoder] = v.frames
            totals[decoder].append(statistics.median(times))
            print(f"{path.name:28s} {decoder:6s} {statistics.median(times):.3f} s  "
                  f"{v.plan.num_frames} frames {v.plan.frame_width}x{v.plan.frame_height} of {v.info.num_frames} "
                  f"({v.info.width}x{v.info.height}, {v.info.codec})")
        if len(frames) == 2:
            same = np.array_equal(frames["decord"], frames["pyav"])
            print(f"{'':28s} identical pixels: {same}")
    for decoder, values in totals.items():
        print(f"{decoder}: mean {statistics.mean(values):.3f} s/clip, min {min(values):.3f}, max {max(values):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
