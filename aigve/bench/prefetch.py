"""An Evaluator whose look-ahead decoding runs in worker processes instead of threads.

:class:`aigve.evaluator.Evaluator` decodes the next batch in a thread pool while the model runs (the
decoders release the GIL). Whether separate processes do better (no GIL at all, but frames are pickled
back to the parent) is an empirical question; ``aigve bench --paths batched-processes`` measures it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from aigve.errors import ConfigError
from aigve.evaluator import Evaluator, VideoItem, _chunks, _load, as_item
from aigve.results import EvaluationResult


class ProcessPrefetchEvaluator(Evaluator):
    """Same results as :class:`~aigve.evaluator.Evaluator`; decoding runs in ``prefetch`` worker processes.

    The pool (``spawn`` start method: the parent holds torch's OpenMP threads, which ``fork`` can deadlock)
    starts on first use (or :meth:`start`) and lives until :meth:`close`, so its start-up cost (a second or
    two of imports per worker) is paid once per evaluator.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max(1, self.prefetch), mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def start(self) -> None:
        """Start the workers now (imports included), so a timed run measures steady state, not start-up."""
        import os

        pool = self._executor()
        for f in [pool.submit(os.getpid) for _ in range(max(1, self.prefetch))]:
            f.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ProcessPrefetchEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def evaluate_many(self, items: Iterable[VideoItem | dict | tuple | str], *, batch_size: int = 1,
                      on_result: Callable[[EvaluationResult], None] | None = None) -> Iterator[EvaluationResult]:
        """As :meth:`Evaluator.evaluate_many` (one batch decoding ahead), with process workers."""
        if batch_size < 1:
            raise ConfigError("batch_size", batch_size, "must be >= 1")
        pool = self._executor()
        pending: list[tuple[list[VideoItem], list[Future]]] = []
        for batch in _chunks([as_item(it, i) for i, it in enumerate(items)], batch_size):
            pending.append((batch, [pool.submit(_load, it, self.sampling) for it in batch]))
            if len(pending) <= 1:
                continue
            yield from self._finish(pending.pop(0), on_result)
        while pending:
            yield from self._finish(pending.pop(0), on_result)
