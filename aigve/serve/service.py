"""The request work of ``aigve serve`` apart from the routes: input checks (webui.safety's guards mapped to
HTTP statuses), uploads streamed under the size limit, the Idempotency-Key store, and one request run under
its timeout. :mod:`aigve.serve.app` turns it into FastAPI routes."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request, UploadFile
from fastapi.responses import JSONResponse

from aigve.core import provenance
from aigve.core import validate as v
from aigve.serve.batcher import BatchSettings, MicroBatcher, QueueFull
from aigve.webui.safety import Limits, RequestRefused, check_prompt, check_video_file, resolve_inside, scrub

#: Bytes read from an upload at a time (the size limit is checked as it streams, not after).
CHUNK = 1 << 20
#: ``(file on the server, prompt, the name the client gave)`` of one video of a request.
Input = tuple[Path, str, str]


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


class Scorer:
    """The request work of the service: check and save the inputs, queue them on the batcher, run a request
    under its timeout and Idempotency-Key. Methods raise :class:`Refused`."""

    def __init__(self, batcher: MicroBatcher, settings: ServeSettings, fact: provenance.Provenance,
                 on_failure: Callable[[str], None]):
        self.batcher, self.settings, self.fact, self.on_failure = batcher, settings, fact, on_failure
        self.store = IdempotencyStore(settings.idempotency_entries)
        self._scratch = tempfile.TemporaryDirectory(prefix="aigve-serve-", ignore_cleanup_errors=True)
        self.scratch = Path(self._scratch.name)

    def close(self) -> None:
        self._scratch.cleanup()

    async def score_items(self, pairs: list[Input], *, together: bool = False) -> list[dict[str, Any]]:
        """One record per input; ``together`` (two inputs, a pairwise judge): one record for both, A then B,
        with ``second`` the name the client gave B."""
        from aigve.items import VideoItem

        if together:
            (a, prompt, _), (b, _, b_name) = pairs
            return await self._score([VideoItem(id=uuid.uuid4().hex, video=str(a), prompt=prompt, second=str(b))],
                                     pairs, pairs[:1], second=b_name)
        items = [VideoItem(id=uuid.uuid4().hex, video=str(path), prompt=prompt) for path, prompt, _ in pairs]
        return await self._score(items, pairs, pairs)

    async def _score(self, items: list, pairs: list[Input], shown: list[Input], second: str | None = None
                     ) -> list[dict[str, Any]]:
        try:
            try:
                futures = self.batcher.submit(items)
            except QueueFull as exc:
                retry = self.batcher.retry_after_s()
                raise Refused(429, f"{exc}; retry in about {retry} s", {"Retry-After": str(retry)}) from None
            results = await asyncio.gather(*futures)
        finally:
            self.drop_uploads(pairs)
        out = []
        for (_, _, name), result in zip(shown, results, strict=True):
            record = result.to_record()
            if not result.ok:
                self.on_failure(str((result.error or {}).get("stage")))
            out.append(_shown(record, name, self.fact))
            if second is not None:
                out[-1]["second"] = second  # the client's name for B, never the server's path
        return out

    def drop_uploads(self, pairs: list[Input]) -> None:
        for path, _, _ in pairs:
            if path.parent == self.scratch:
                path.unlink(missing_ok=True)

    async def gather_inputs(self, prompts: list[str], paths: list[str], files: list[UploadFile]) -> list[Input]:
        n = len(paths) + len(files)
        if n == 0:
            raise Refused(422, "no video given: upload files as 'files' or name server paths as 'paths'")
        if n > self.settings.max_videos:
            raise Refused(413, f"{n} videos in one request; this server takes at most {self.settings.max_videos}")
        if len(prompts) == 1 and n > 1:
            prompts = prompts * n
        if len(prompts) not in (0, n):
            raise Refused(422, f"{len(prompts)} prompts for {n} videos; give one prompt, or one per video "
                               "(paths first, then files, in order)")
        prompts = [_prompt(p) for p in prompts] or [""] * n
        out: list[Input] = []
        try:
            for raw, prompt in zip(paths, prompts[:len(paths)], strict=True):
                out.append((_server_path(raw, self.settings), prompt, raw))
            for upload, prompt in zip(files, prompts[len(paths):], strict=True):
                out.append((await _save_upload(upload, self.scratch, self.settings.limits), prompt,
                            Path(upload.filename or "upload").name))
        except Refused:
            self.drop_uploads(out)  # one bad video refuses the request: the copies saved so far go now
            raise
        return out

    async def idempotent(self, request: Request, pairs: list[Input], digest: str, body_fn):
        """Run ``body_fn()`` under the request timeout; with an Idempotency-Key, once per key."""
        key = request.headers.get("idempotency-key")
        if key:
            task, replayed = self.store.task(key, digest, body_fn)
        else:
            task, replayed = asyncio.ensure_future(body_fn()), False
        if replayed:  # the stored task scores its own copies; this request's uploads are not needed
            self.drop_uploads(pairs)
        try:
            body = await asyncio.wait_for(asyncio.shield(task), self.settings.timeout_s)
        except asyncio.TimeoutError:
            raise Refused(504, f"not scored within this server's {self.settings.timeout_s:g} s request timeout; the "
                               "videos still finish: retry with the same Idempotency-Key to collect the result"
                          ) from None
        return JSONResponse(body, headers={"Idempotent-Replay": "true"} if replayed else None)


def _prompt(text: str) -> str:
    try:
        return check_prompt(text)
    except RequestRefused as exc:
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


def digest(kind: str, pairs: list[Input]) -> str:
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


