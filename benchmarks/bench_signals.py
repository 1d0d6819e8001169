"""Speed of the signals backend: decode + measure per video at its default sampling.

    .venv/bin/python benchmarks/bench_signals.py [VIDEO_DIR_OR_FILES ...] [--repeat N] [--threads N]

Prints one line per video (decode s, measure s, frames, scores) and the totals: seconds per video,
videos/s and frames/s (wall clock), CPU seconds per video (process time over all threads, which other
load on the machine barely changes) and the load average (wall figures only mean something when it
is below the core count). Default input: the 11 clips in data/clips (or $AIGVE_SHARED/videos).
Target (issue #3): at least 2 videos/s on 2 CPU cores for 16-frame 512x512 clips.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _videos(args: list[str]) -> list[Path]:
    if not args:
        shared = os.environ.get("AIGVE_SHARED")
        args = [str(Path(shared) / "videos" if shared else REPO / "data" / "clips")]
    out: list[Path] = []
    for arg in args:
        p = Path(arg)
        out.extend(sorted(p.glob("*.mp4")) if p.is_dir() else [p])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", help="video files or folders (default: data/clips)")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the videos; the first warms caches")
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's choice)")
    parser.add_argument("--flow-preset", default="medium", choices=("ultrafast", "fast", "medium"))
    args = parser.parse_args()

    import cv2

    from aigve.backends.base import default_sampling
    from aigve.backends.signals import SignalsBackend
    from aigve.video import load_video

    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    videos = _videos(args.videos)
    if not videos:
        print("no videos found", file=sys.stderr)
        return 1
    backend = SignalsBackend(flow_preset=args.flow_preset)
    cfg = default_sampling(backend, None)
    print(f"{len(videos)} videos, sampling fps={cfg.fps} max_frames={cfg.max_frames} max_pixels={cfg.max_pixels}, "
          f"flow={args.flow_preset}, cv2 threads={cv2.getNumThreads()}, cpus={os.cpu_count()}")
    for rep in range(args.repeat):
        decode_s = measure_s = 0.0
        frames = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        for path in videos:
            t0 = time.perf_counter()
            video = load_video(path, cfg)
            t1 = time.perf_counter()
            out = backend.score([video], [""])[0]
            t2 = time.perf_counter()
            decode_s, measure_s, frames = decode_s + t1 - t0, measure_s + t2 - t1, frames + len(video.frames)
            if rep == args.repeat - 1:
                s = out.parsed.scores
                print(f"  {path.name}: decode {t1 - t0:.3f}s measure {t2 - t1:.3f}s "
                      f"{len(video.frames)}x{video.plan.frame_width}x{video.plan.frame_height} | "
                      f"technical_quality={s['technical_quality']} dynamic={s['dynamic']} "
                      f"consistency={s['consistency']} overall={s['overall']}")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        label = "warm-up" if rep < args.repeat - 1 else "timed"
        print(f"pass {rep + 1} ({label}): {wall / len(videos):.3f} s/video (decode {decode_s / len(videos):.3f} + "
              f"measure {measure_s / len(videos):.3f}), {len(videos) / wall:.2f} videos/s, {frames / wall:.1f} frames/s; "
              f"CPU {cpu / len(videos):.3f} s/video (all threads); load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
