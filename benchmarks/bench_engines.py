"""Wall time of one scoring run on the local engine vs the Ray engine, same job, same clips.

    .venv/bin/python benchmarks/bench_engines.py [--backend fake|signals] [--actors N] [--num-cpus N]

Scores the 11 clips in data/clips into fresh temporary folders with ``--engine local`` and ``--engine ray``
(a local ``ray.init``, started inside the timed run, as ``aigve score --engine ray`` does), checks that both
wrote the same scores, and prints seconds, videos/s and the load average. On one small machine Ray can only
add overhead (starting the cluster, the actor building its evaluator, moving frames through the object store);
it pays off with many GPUs or a cluster, where the local engine cannot use them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _scores(path: Path) -> dict:
    return {r["id"]: r["scores"] for r in map(json.loads, path.read_text().splitlines())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="fake", choices=("fake", "signals"))
    parser.add_argument("--actors", type=int, default=1)
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import warnings

    from aigve.errors import NotARealEvaluationWarning
    from aigve.run.batch import run_job
    from aigve.run.job import ScoreJob

    warnings.simplefilter("ignore", NotARealEvaluationWarning)
    clips = REPO / "data" / "clips"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("local", "ray"):
            job = ScoreJob(str(clips), backend=args.backend, out=Path(tmp) / engine, progress=False, engine=engine,
                           ray_actors=args.actors, ray_num_cpus=args.num_cpus)
            start = time.perf_counter()
            outcome = run_job(job)
            wall = time.perf_counter() - start
            rows.append((engine, outcome.summary.scored, wall))
        same = _scores(Path(tmp) / "local" / "results.jsonl") == _scores(Path(tmp) / "ray" / "results.jsonl")
    print(f"backend {args.backend}, 11 clips, ray actors {args.actors}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; same scores on both engines: {same}")
    print(f"{'engine':<8} {'scored':>6} {'wall s':>8} {'videos/s':>9}")
    for engine, scored, wall in rows:
        print(f"{engine:<8} {scored:>6} {wall:>8.2f} {scored / wall:>9.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
