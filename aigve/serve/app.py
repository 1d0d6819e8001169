"""The FastAPI app of ``aigve serve``: score, pairwise, health, info, Prometheus metrics.

Status codes: 401 bad/missing API key, 403 path outside ``root``, 409 an Idempotency-Key reused with a different
request, 413 upload too large, 415 not a video file type, 422 unreadable/too long video or bad form, 429 queue
full (with Retry-After), 504 the request timed out (its videos still finish scoring; a retry with the same
Idempotency-Key then gets the stored result).
"""

from __future__ import annotations

import hmac
import logging
import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aigve.core import provenance
from aigve.core import validate as v
from aigve.serve.batcher import Judge, MicroBatcher
from aigve.serve.service import Refused, Scorer, ServeSettings, digest

__all__ = ["Refused", "ServeSettings", "create_app"]

log = logging.getLogger(__name__)

#: The routes counted by name in the metrics (any other path is counted as "other").
ROUTES = frozenset({"/v1/score", "/v1/pairwise", "/v1/health", "/v1/info", "/metrics"})


class Metrics:
    """Prometheus metrics in a registry of this app's own (two apps in one process do not collide)."""

    def __init__(self, depth) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("aigve_requests_total", "HTTP requests", ["endpoint", "status"], registry=r)
        self.latency = Histogram("aigve_request_seconds", "request latency", ["endpoint"], registry=r,
                                 buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
        self.queue = Gauge("aigve_queue_depth", "videos waiting for the judge", registry=r)
        self.queue.set_function(depth)
        self.batch = Histogram("aigve_batch_size", "videos per judge call", registry=r,
                               buckets=(1, 2, 4, 8, 16, 32, 64))
        self.judge_seconds = Histogram("aigve_judge_seconds", "seconds per judge call", registry=r)
        self.failures = Counter("aigve_video_failures_total", "videos that could not be scored", ["stage"], registry=r)


def create_app(judge: Judge, settings: ServeSettings, *, on_shutdown=None) -> FastAPI:
    """The service around ``judge`` (an Evaluator built as ``aigve score`` builds it)."""
    described = dict(judge.describe())
    # read where the judge was built: the backend's own provenance record, never guessed from names
    fact = provenance.of_backend(described)
    batcher = MicroBatcher(judge, settings.batch)
    metrics = Metrics(batcher.depth)
    batcher.on_batch = lambda size, seconds: (metrics.batch.observe(size), metrics.judge_seconds.observe(seconds))
    scorer = Scorer(batcher, settings, fact, on_failure=lambda stage: metrics.failures.labels(stage).inc())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()  # uvicorn has stopped accepting and answered in-flight requests first
        scorer.close()
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(title="aigve", version=_version(), lifespan=lifespan,
                  description="Nine-aspect scores and comments for AI-generated videos. "
                              + (provenance.banner(fact) or "Judge: a real evaluation model."))
    judge_block = {"backend": described.get("name"), "model": described.get("model"),
                   "profile": described.get("profile"), "provenance": fact.to_dict(),
                   "not_a_real_evaluation": provenance.banner(fact), **dict(settings.judge_info)}

    @app.middleware("http")
    async def guard(request: Request, call_next):
        start = time.perf_counter()
        endpoint = request.url.path
        try:
            if endpoint.startswith("/v1/") and endpoint != "/v1/health":
                _check_key(request, settings.api_key)
            response = await call_next(request)
        except Refused as exc:
            response = JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)
        if endpoint.startswith("/v1/") or endpoint == "/metrics":
            label = endpoint if endpoint in ROUTES else "other"  # a client's made-up paths add no series
            metrics.requests.labels(label, str(response.status_code)).inc()
            metrics.latency.labels(label).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    # a judge shown both videos at once (a pairwise profile), as recorded where it was built
    pair_judge = described.get("videos_per_item") == 2

    @app.post("/v1/score", summary="Score one or many videos (uploads and/or server paths) with prompts")
    async def score(request: Request, prompts: list[str] = Form(default=[]), paths: list[str] = Form(default=[]),
                    files: list[UploadFile] = File(default=[])):
        if pair_judge:
            raise Refused(422, f"this server's judge ({described.get('profile')}) compares two videos at once: "
                               "send them to /v1/pairwise")
        pairs = await scorer.gather_inputs(prompts, paths, files)

        async def body():
            return {"results": await scorer.score_items(pairs), "judge": judge_block}
        return await scorer.idempotent(request, pairs, digest("score", pairs), body)

    @app.post("/v1/pairwise", summary="Which of two videos is better for one prompt, per aspect")
    async def pairwise(request: Request, prompt: str = Form(default=""), paths: list[str] = Form(default=[]),
                       files: list[UploadFile] = File(default=[]), tie_margin: float = Form(default=0.0)):
        v_margin = _tie_margin(tie_margin)
        pairs = await scorer.gather_inputs([prompt], paths, files)
        if len(pairs) != 2:
            scorer.drop_uploads(pairs)
            raise Refused(422, f"{len(pairs)} videos given; pairwise takes exactly two (A then B)")

        async def body():
            if pair_judge:  # the judge's own verdict on both videos in one request (A shown first)
                (pair,) = await scorer.score_items(pairs, together=True)
                return {"pair": pair, "preferred": dict(pair.get("preference") or {}), "judge": judge_block}
            a, b = await scorer.score_items(pairs)
            return {"a": a, "b": b, "preferred": _prefer(a, b, v_margin), "judge": judge_block}
        return await scorer.idempotent(request, pairs, digest(f"pairwise:{v_margin}", pairs), body)

    _status_routes(app, batcher, settings, metrics, judge_block, described)
    app.state.batcher = batcher
    app.state.scorer = scorer
    app.state.metrics = metrics
    return app


def _status_routes(app: FastAPI, batcher: MicroBatcher, settings: ServeSettings, metrics: Metrics,
                   judge_block: dict[str, Any], described: dict[str, Any]) -> None:
    """GET /v1/health, /v1/info and /metrics."""
    @app.get("/v1/health", summary="Liveness: 200 while the server accepts requests")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "queue_depth": batcher.depth(), "queue_size": settings.batch.queue_size}

    @app.get("/v1/info", summary="The judge, its profile and provenance, limits, versions")
    async def info() -> dict[str, Any]:
        from aigve.run.environment import environment

        return {"judge": judge_block, "backend": described, "versions": environment(),
                "limits": {"max_upload_mb": settings.limits.max_upload_mb,
                           "max_duration_s": settings.limits.max_duration_s, "max_videos": settings.max_videos,
                           "queue_size": settings.batch.queue_size, "max_batch": settings.batch.max_batch,
                           "timeout_s": settings.timeout_s},
                "paths_allowed": settings.root is not None, "auth": settings.api_key is not None}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)



def _version() -> str:
    import aigve

    return aigve.__version__


def _check_key(request: Request, key: str | None) -> None:
    if key is None:
        return
    given = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not hmac.compare_digest(given.encode(), key.encode()):
        raise Refused(401, "missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                      {"WWW-Authenticate": "Bearer"})


def _tie_margin(value: float) -> float:
    from aigve.errors import ConfigError

    try:
        return v.non_negative("tie_margin", value, high=5.0)
    except ConfigError as exc:
        raise Refused(422, str(exc)) from None


def _prefer(a: dict[str, Any], b: dict[str, Any], margin: float) -> dict[str, str | None]:
    """Per aspect ``A``/``B``/``same`` (None when either is unscored), from the two scorings."""
    from aigve.report.pairwise import preference, video_scores

    scores = video_scores([{**a, "id": "a"}, {**b, "id": "b"}], "integer")
    sa, sb = scores.get("a", {}), scores.get("b", {})
    words = {"a": "A", "b": "B", "tie": "same", None: None}
    return {k: words[preference(sa[k] - sb[k] if k in sa and k in sb else None, margin)]
            for k in dict.fromkeys([*sa, *sb])}

