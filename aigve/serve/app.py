"""The FastAPI app of ``aigve serve``: score, pairwise, health, info, Prometheus metrics.

Status codes: 401 bad/missing API key, 403 path outside ``root``, 409 an Idempotency-Key reused with a different
request, 413 upload too large, 415 not a video file type, 422 unreadable/too long video or bad form, 429 queue
full (with Retry-After), 504 the request timed out (its videos still finish scoring; a retry with the same
Idempotency-Key then gets the stored result).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import tempfile
import time
import uuid
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aigve.core import provenance
from aigve.core import validate as v
from aigve.serve.batcher import BatchSettings, Judge, MicroBatcher, QueueFull
from aigve.webui.safety import Limits, RequestRefused, check_prompt, check_video_file, resolve_inside, scrub

log = logging.getLogger(__name__)

#: Bytes read from an upload at a time (the size limit is checked as it streams, not after).
CHUNK = 1 << 20


class Refused(Exception):
    """A request refused with an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


@dataclass(frozen=True)
class ServeSettings:
    """``root``: the server folder whose videos may be named by path (None: uploads only). ``api_key``: when
    set, every /v1 request needs ``Authorization: Bearer KEY`` or ``X-API-Key``. ``timeout_s``: per request.
    ``max_videos``: per request. ``idempotency_entries``: results kept for Idempotency-Key replays."""

    root: Path | None = None
    api_key: str | None = None
    limits: Limits = Limits()
    batch: BatchSettings = BatchSettings()
    timeout_s: float = 300.0
    max_videos: int = 64
    idempotency_entries: int = 1024
    judge_info: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        v.positive("timeout_s", self.timeout_s, high=10**6)
        v.positive_int("max_videos", self.max_videos, high=10**5)
        v.positive_int("idempotency_entries", self.idempotency_entries, high=10**7)


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


class IdempotencyStore:
    """Bounded LRU of ``Idempotency-Key -> (request digest, task)``. The task is stored as soon as the request
    is accepted, so a retry (after a 504, or a duplicate sent at once) awaits the same scoring instead of
    scoring twice; the same key with another request is a conflict (409). A task that failed (429) is dropped."""

    def __init__(self, entries: int):
        self.entries = entries
        self._data: OrderedDict[str, tuple[str, asyncio.Future]] = OrderedDict()

    def task(self, key: str, digest: str, start) -> tuple[asyncio.Future, bool]:
        """``(task, replayed)``: the stored task of ``key``, or a new one from ``start()``."""
        if key in self._data:
            stored_digest, task = self._data[key]
            if not hmac.compare_digest(stored_digest, digest):
                raise Refused(409, "this Idempotency-Key was used for a different request; use a new key")
            self._data.move_to_end(key)
            return task, True
        task = asyncio.ensure_future(start())
        self._data[key] = (digest, task)
        task.add_done_callback(lambda t: self._drop_failed(key, t))
        while len(self._data) > self.entries:
            self._data.popitem(last=False)
        return task, False

    def _drop_failed(self, key: str, task: asyncio.Future) -> None:
        if (task.cancelled() or task.exception() is not None) and self._data.get(key, (None, None))[1] is task:
            del self._data[key]


def create_app(judge: Judge, settings: ServeSettings, *, on_shutdown=None) -> FastAPI:
    """The service around ``judge`` (an Evaluator built as ``aigve score`` builds it)."""
    from aigve.evaluator import VideoItem

    described = dict(judge.describe())
    # read where the judge was built: the backend's own provenance record, never guessed from names
    fact = provenance.of_backend(described)
    batcher = MicroBatcher(judge, settings.batch)
    metrics = Metrics(batcher.depth)
    batcher.on_batch = lambda size, seconds: (metrics.batch.observe(size), metrics.judge_seconds.observe(seconds))
    store = IdempotencyStore(settings.idempotency_entries)
    scratch = tempfile.TemporaryDirectory(prefix="aigve-serve-", ignore_cleanup_errors=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()  # uvicorn has stopped accepting and answered in-flight requests first
        scratch.cleanup()
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
            metrics.requests.labels(endpoint, str(response.status_code)).inc()
            metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
        return response

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused):
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    async def score_items(pairs: list[tuple[Path, str, str]]) -> list[dict[str, Any]]:
        items = [VideoItem(id=uuid.uuid4().hex, video=str(path), prompt=prompt) for path, prompt, _ in pairs]
        try:
            futures = batcher.submit(items)
        except QueueFull as exc:
            retry = batcher.retry_after_s()
            raise Refused(429, f"{exc}; retry in about {retry} s", {"Retry-After": str(retry)}) from None
        try:
            results = await asyncio.gather(*futures)
        finally:
            drop_uploads(pairs)
        out = []
        for (_, _, name), result in zip(pairs, results, strict=True):
            record = result.to_record()
            if not result.ok:
                metrics.failures.labels(str((result.error or {}).get("stage"))).inc()
            out.append(_shown(record, name, fact))
        return out

    def drop_uploads(pairs: list[tuple[Path, str, str]]) -> None:
        for path, _, _ in pairs:
            if path.parent == Path(scratch.name):
                path.unlink(missing_ok=True)

    async def gather_inputs(prompts: list[str], paths: list[str], files: list[UploadFile]) -> list[tuple[Path, str, str]]:
        n = len(paths) + len(files)
        if n == 0:
            raise Refused(422, "no video given: upload files as 'files' or name server paths as 'paths'")
        if n > settings.max_videos:
            raise Refused(413, f"{n} videos in one request; this server takes at most {settings.max_videos}")
        if len(prompts) == 1 and n > 1:
            prompts = prompts * n
        if len(prompts) not in (0, n):
            raise Refused(422, f"{len(prompts)} prompts for {n} videos; give one prompt, or one per video "
                               "(paths first, then files, in order)")
        prompts = [_prompt(p) for p in prompts] or [""] * n
        out = []
        for raw, prompt in zip(paths, prompts[:len(paths)], strict=True):
            out.append((_server_path(raw, settings), prompt, raw))
        for upload, prompt in zip(files, prompts[len(paths):], strict=True):
            out.append((await _save_upload(upload, Path(scratch.name), settings.limits), prompt,
                        Path(upload.filename or "upload").name))
        return out

    async def idempotent(request: Request, pairs: list[tuple[Path, str, str]], digest: str, body_fn):
        """Run ``body_fn()`` under the request timeout; with an Idempotency-Key, once per key."""
        key = request.headers.get("idempotency-key")
        if key:
            task, replayed = store.task(key, digest, body_fn)
        else:
            task, replayed = asyncio.ensure_future(body_fn()), False
        if replayed:  # the stored task scores its own copies; this request's uploads are not needed
            drop_uploads(pairs)
        try:
            body = await asyncio.wait_for(asyncio.shield(task), settings.timeout_s)
        except asyncio.TimeoutError:
            raise Refused(504, f"not scored within this server's {settings.timeout_s:g} s request timeout; the "
                               "videos still finish: retry with the same Idempotency-Key to collect the result"
                          ) from None
        return JSONResponse(body, headers={"Idempotent-Replay": "true"} if replayed else None)

    @app.post("/v1/score", summary="Score one or many videos (uploads and/or server paths) with prompts")
    async def score(request: Request, prompts: list[str] = Form(default=[]), paths: list[str] = Form(default=[]),
                    files: list[UploadFile] = File(default=[])):
        pairs = await gather_inputs(prompts, paths, files)
        digest = _digest("score", pairs)

        async def body():
            return {"results": await score_items(pairs), "judge": judge_block}
        return await idempotent(request, pairs, digest, body)

    @app.post("/v1/pairwise", summary="Which of two videos is better for one prompt, per aspect")
    async def pairwise(request: Request, prompt: str = Form(default=""), paths: list[str] = Form(default=[]),
                       files: list[UploadFile] = File(default=[]), tie_margin: float = Form(default=0.0)):
        v_margin = _tie_margin(tie_margin)
        pairs = await gather_inputs([prompt], paths, files)
        if len(pairs) != 2:
            raise Refused(422, f"{len(pairs)} videos given; pairwise takes exactly two (A then B)")
        digest = _digest(f"pairwise:{v_margin}", pairs)

        async def body():
            a, b = await score_items(pairs)
            return {"a": a, "b": b, "preferred": _prefer(a, b, v_margin), "judge": judge_block}
        return await idempotent(request, pairs, digest, body)

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

    app.state.batcher = batcher
    app.state.metrics = metrics
    return app


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


def _prompt(text: str) -> str:
    try:
        return check_prompt(text)
    except RequestRefused as exc:
        raise Refused(422, str(exc)) from None


def _tie_margin(value: float) -> float:
    from aigve.errors import ConfigError

    try:
        return v.non_negative("tie_margin", value, high=5.0)
    except ConfigError as exc:
        raise Refused(422, str(exc)) from None


def _server_path(raw: str, settings: ServeSettings) -> Path:
    if settings.root is None:
        raise Refused(403, "this server scores uploads only (started without --root); upload the file instead")
    try:
        path = resolve_inside(raw, [settings.root], what="path")
    except RequestRefused as exc:
        status = 422 if "does not exist" in str(exc) else 403
        raise Refused(status, str(exc)) from None
    _check_video(path, settings.limits, raw, check_size=False)
    return path


def _check_video(path: Path, limits: Limits, name: str, *, check_size: bool) -> None:
    from aigve.video import is_video_path

    if not is_video_path(path):
        raise Refused(415, f"{name}: not a video file type ({path.suffix or 'no extension'})")
    try:
        check_video_file(path, limits, name=name, check_size=check_size)
    except RequestRefused as exc:
        raise Refused(413 if " MB is over " in str(exc) else 422, str(exc)) from None


async def _save_upload(upload: UploadFile, folder: Path, limits: Limits) -> Path:
    """Stream an upload to ``folder`` (refused at once past the size limit), then check it is a video."""
    from aigve.video import is_video_path

    name = Path(upload.filename or "upload").name
    if not is_video_path(Path(name)):
        raise Refused(415, f"{name}: not a video file type ({Path(name).suffix or 'no extension'}); upload an "
                           ".mp4, .webm, .mov, .mkv, ...")
    target = folder / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    size = 0
    with target.open("wb") as fh:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limits.max_upload_bytes:
                fh.close()
                target.unlink(missing_ok=True)
                raise Refused(413, f"{name}: over this server's {limits.max_upload_mb:g} MB upload limit")
            fh.write(chunk)
    _check_video(target, limits, name, check_size=True)
    return target


def _digest(kind: str, pairs: list[tuple[Path, str, str]]) -> str:
    """What an Idempotency-Key is bound to: the kind of request, each video's bytes (sha256) and prompt."""
    h = hashlib.sha256(kind.encode())
    for path, prompt, _ in pairs:
        file_hash = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                file_hash.update(chunk)
        h.update(file_hash.digest())
        h.update(prompt.encode() + b"\0")
    return h.hexdigest()


def _shown(record: dict[str, Any], name: str, fact: provenance.Provenance) -> dict[str, Any]:
    """The record a client gets: the video as it named it (no server path), the provenance fact on top."""
    record = dict(record)
    if record.get("error"):
        err = dict(record["error"])
        err["message"] = scrub(str(err.get("message", "")), record.get("video", "")).replace(
            Path(str(record.get("video", ""))).name, name)
        record["error"] = err
    record["video"] = name
    record.pop("id", None)  # the server's own item id; the client knows its videos by position and name
    record["provenance"] = fact.kind
    return record


def _prefer(a: dict[str, Any], b: dict[str, Any], margin: float) -> dict[str, str | None]:
    """Per aspect ``A``/``B``/``same`` (None when either is unscored), from the two scorings."""
    from aigve.report.pairwise import preference, video_scores

    scores = video_scores([{**a, "id": "a"}, {**b, "id": "b"}], "integer")
    sa, sb = scores.get("a", {}), scores.get("b", {})
    words = {"a": "A", "b": "B", "tie": "same", None: None}
    return {k: words[preference(sa[k] - sb[k] if k in sa and k in sb else None, margin)]
            for k in dict.fromkeys([*sa, *sb])}

