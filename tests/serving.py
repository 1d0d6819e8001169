"""Test helpers for `aigve serve`: a real uvicorn server on a free loopback port in a thread, and judges."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

from conftest import free_port

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO / "data" / "clips"


def fake_judge():
    """The fake backend's evaluator, built the way `aigve score` builds it (ScoreJob + build_evaluator)."""
    from aigve.run.job import ScoreJob
    from aigve.serve.launch import build_judge

    return build_judge(ScoreJob(inputs=str(CLIPS), backend="fake", progress=False))


class GatedJudge:
    """A judge whose calls wait for ``gate`` (to fill the queue or pass a timeout on purpose)."""

    def __init__(self, inner, delay_s: float = 0.0):
        self.inner, self.delay_s = inner, delay_s
        self.gate = threading.Event()
        self.calls: list[int] = []

    def describe(self):
        return self.inner.describe()

    def evaluate_many(self, items, *, batch_size=1):
        items = list(items)
        self.gate.wait(30)
        time.sleep(self.delay_s)
        self.calls.append(len(items))
        return self.inner.evaluate_many(items, batch_size=batch_size)


@contextlib.contextmanager
def running(judge, **settings):
    """Serve ``judge`` with ServeSettings(**settings); yields ``(base_url, uvicorn server, thread)``."""
    import uvicorn

    from aigve.serve.app import ServeSettings, create_app

    app = create_app(judge, ServeSettings(**settings))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=30))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server, thread
    finally:
        server.should_exit = True
        thread.join(30)
