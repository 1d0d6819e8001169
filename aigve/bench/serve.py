"""``aigve bench --serve``: throughput and latency of ``aigve serve`` at several client concurrencies, next to
in-process scoring of the same videos with the same judge, in the same run.

Served figures include HTTP, form parsing, the micro-batcher's gathering window and JSON; the videos are named
by server path (inside a root holding them all), so no upload copy is timed. Latency is per request (one
video), from the client's send to its answer.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import socket
import statistics
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values`` by the inclusive method (statistics.quantiles)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _summary(label: str, latencies: list[float], wall_s: float, concurrency: int | str) -> dict[str, Any]:
    return {"mode": label, "concurrency": concurrency, "requests": len(latencies),
            "videos_per_s": len(latencies) / wall_s if wall_s > 0 else None,
            "p50_ms": 1000 * _percentile(latencies, 0.50), "p95_ms": 1000 * _percentile(latencies, 0.95)}


def in_process(judge: Any, items: list, requests: int, batch_size: int) -> list[dict[str, Any]]:
    """Two in-process rows: one video per call (latency = the call), and ``batch_size`` per call (throughput)."""
    from aigve.evaluator import VideoItem

    work = [VideoItem(id=f"v{i}", video=items[i % len(items)].video, prompt=items[i % len(items)].prompt)
            for i in range(requests)]
    latencies, start = [], time.perf_counter()
    for item in work:
        t = time.perf_counter()
        list(judge.evaluate_many([item], batch_size=1))
        latencies.append(time.perf_counter() - t)
    rows = [_summary("in-process, 1 per call", latencies, time.perf_counter() - start, 1)]
    start = time.perf_counter()
    list(judge.evaluate_many(work, batch_size=batch_size))
    wall = time.perf_counter() - start
    rows.append({"mode": f"in-process, batch {batch_size}", "concurrency": "-", "requests": requests,
                 "videos_per_s": requests / wall, "p50_ms": None, "p95_ms": None})
    return rows


def served(judge: Any, items: list, levels: Sequence[int], requests: int, *, max_batch: int,
           max_wait_s: float = 0.005) -> list[dict[str, Any]]:
    """One row per concurrency level: ``requests`` POST /v1/score calls from that many client threads."""
    import uvicorn

    from aigve.serve.app import ServeSettings, create_app
    from aigve.serve.batcher import BatchSettings

    videos = [Path(it.video).resolve() for it in items]
    root = Path(os.path.commonpath([str(p.parent) for p in videos]))
    settings = ServeSettings(root=root, batch=BatchSettings(max_batch=max_batch, max_wait_s=max_wait_s,
                                                            queue_size=max(64, 2 * max(levels))))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(judge, settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the bench server did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for level in levels:
            counter, lock = iter(range(requests)), threading.Lock()
            work = [(str(videos[i % len(items)]), items[i % len(items)].prompt) for i in range(requests)]
            start = time.perf_counter()
            with cf.ThreadPoolExecutor(level) as pool:
                parts = [pool.submit(_client, url, work, counter, lock) for _ in range(level)]
                latencies = [x for part in parts for x in part.result()]
            rows.append(_summary("served", latencies, time.perf_counter() - start, level))
    finally:
        server.should_exit = True
        thread.join(60)
    return rows


def _client(url: str, work: list[tuple[str, str]], counter, lock: threading.Lock) -> list[float]:
    """One client thread: take the next request from ``counter`` until none is left; its latencies (s)."""
    import httpx

    out = []
    with httpx.Client(base_url=url, timeout=600) as c:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return out
            path, prompt = work[i]
            t = time.perf_counter()
            c.post("/v1/score", data={"paths": [path], "prompts": [prompt]}).raise_for_status()
            out.append(time.perf_counter() - t)


def render(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table: mode, concurrency, requests, videos/s, p50 ms, p95 ms."""
    def f(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    lines = [f"{'mode':<24} {'clients':>7} {'requests':>8} {'videos/s':>9} {'p50 ms':>8} {'p95 ms':>8}"]
    for r in rows:
        lines.append(f"{r['mode']:<24} {r['concurrency']!s:>7} {r['requests']:>8} {f(r['videos_per_s'], '.1f'):>9} "
                     f"{f(r['p50_ms'], '.1f'):>8} {f(r['p95_ms'], '.1f'):>8}")
    return "\n".join(lines)
