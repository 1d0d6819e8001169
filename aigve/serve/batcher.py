"""A bounded asyncio micro-batcher in front of one judge thread.

Why not a library's batching: LitServe owns the whole app (its own server, routes and worker processes), so
the rest of this API (pairwise, idempotency, the mounted Gradio UI, our auth and limits) would have to be
rebuilt inside its hooks; Ray Serve's ``@serve.batch`` needs a Ray cluster, too heavy for a laptop default.
The judge itself batches (``Evaluator.evaluate_many(batch_size=N)``); this only gathers up to ``max_batch``
waiting items for at most ``max_wait_s`` and hands them to it, one batch at a time on one thread, so a
GPU-sized model is never called concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from aigve.core import validate as v

log = logging.getLogger(__name__)


class Judge(Protocol):
    """What the batcher calls: :class:`aigve.evaluator.Evaluator` satisfies it."""

    def evaluate_many(self, items: Iterable[Any], *, batch_size: int = 1) -> Iterator[Any]: ...

    def describe(self) -> Mapping[str, Any]: ...


class QueueFull(Exception):
    """More items waiting than the queue holds (HTTP 429)."""


@dataclass(frozen=True)
class BatchSettings:
    """``max_batch``: videos per judge call; ``max_wait_s``: how long the first item of a batch waits for
    company; ``queue_size``: items that may wait (more are refused at once)."""

    max_batch: int = 4
    max_wait_s: float = 0.01
    queue_size: int = 64

    def __post_init__(self) -> None:
        v.positive_int("max_batch", self.max_batch, high=10_000)
        v.non_negative("max_wait_s", self.max_wait_s, high=60.0)
        v.positive_int("queue_size", self.queue_size, high=10**6)


class MicroBatcher:
    """``await submit([item, ...])`` -> their results, in order. One judge thread runs batches serially.

    ``on_batch(size)`` is called for each judge call (metrics); ``depth()`` is the number waiting.
    """

    def __init__(self, judge: Judge, settings: BatchSettings, on_batch: Callable[[int, float], None] | None = None):
        self.judge = judge
        self.settings = settings
        self.on_batch = on_batch or (lambda size, seconds: None)
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="aigve-judge")
        self._pending = 0
        self._batch_s = 1.0  # seconds per judge call, smoothed (a guess until the first call is timed)

    def depth(self) -> int:
        """Videos accepted and not yet answered (waiting, or in the judge call now running)."""
        return self._pending

    def retry_after_s(self) -> int:
        """Whole seconds until the queue has room again, from the measured time per judge call (>= 1)."""
        batches = -(-self._pending // self.settings.max_batch)
        return max(1, round(batches * self._batch_s))

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Finish every accepted item, then stop the loop and the judge thread."""
        if self._queue is not None:
            await self._queue.join()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._thread.shutdown(wait=True)

    def submit(self, items: list[Any]) -> list[asyncio.Future]:
        """Queue ``items`` (all or none) and return one future per item; QueueFull when they do not fit."""
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        if self._pending + len(items) > self.settings.queue_size:
            raise QueueFull(f"{self._pending} videos are waiting; this server queues at most "
                            f"{self.settings.queue_size}")
        loop = asyncio.get_running_loop()
        futures = []
        for item in items:
            fut = loop.create_future()
            self._queue.put_nowait((item, fut))
            futures.append(fut)
        self._pending += len(items)
        return futures

    async def _loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.settings.max_wait_s
            while len(batch) < self.settings.max_batch:
                timeout = deadline - loop.time()
                try:
                    batch.append(self._queue.get_nowait() if timeout <= 0 else
                                 await asyncio.wait_for(self._queue.get(), timeout))
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
            items = [item for item, _ in batch]
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._thread, self._score, items)
            except Exception as exc:  # the judge itself broke: every item of the batch fails, the loop goes on
                log.exception("judge call failed")
                results = [exc] * len(items)
            seconds = time.perf_counter() - start
            self._batch_s = 0.8 * self._batch_s + 0.2 * seconds
            self.on_batch(len(items), seconds)
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():  # a cancelled waiter (client gone) leaves its future cancelled
                    fut.set_exception(result) if isinstance(result, Exception) else fut.set_result(result)
                self._pending -= 1
                self._queue.task_done()

    def _score(self, items: list[Any]) -> list[Any]:
        # results come back per batch, not necessarily in order (length-sorted batches): match them by id
        by_id = {r.id: r for r in self.judge.evaluate_many(items, batch_size=len(items))}
        return [by_id[item.id] for item in items]
