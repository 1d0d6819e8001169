"""Evaluator = frame sampler + backend + parser. One request per video covers all nine aspects."""

from __future__ import annotations

import inspect
import logging
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from aigve.aspects import ASPECT_KEYS
from aigve.backends.base import Backend, BackendOutput, default_sampling
from aigve.config import SamplingConfig
from aigve.core import validate
from aigve.errors import ConfigError, NotARealEvaluationWarning, ResponseParseError
from aigve.items import SAMPLED, VideoItem, as_item, count_mismatch, decode_item
from aigve.media import SampledPair, SampledVideo, VideoInfo
from aigve.results import EvaluationResult

log = logging.getLogger(__name__)

DECODE_WORKERS = ("thread", "process")
#: Length sorting looks this many batches ahead: batches pad little, while the order of work stays close
#: to the input's (progress and resume behave as before).
SORT_WINDOW_BATCHES = 8


def not_a_real_evaluation(description: Mapping[str, Any]) -> str | None:
    """Why results described by ``description`` (a backend's ``describe()``) are not a real evaluation
    (fake backend, tiny test model, random weights), or None. Read from the provenance stamped where the judge
    was built (:mod:`aigve.core.provenance`), never guessed from names: the one place the Python API asks."""
    from aigve.core.provenance import of_backend

    found = of_backend(dict(description))
    return None if found.is_real else found.reason


PARENT_POLL_S = 0.5
"""How often a decode worker checks that the process that started it is still alive, in seconds."""


def end_with_parent(parent_pid: int) -> None:
    """Worker-process initializer: end this worker as soon as ``parent_pid`` is gone.

    A parent killed with SIGKILL runs no cleanup, and its pool's workers (90-100 MB each) would live on.
    Why polling rather than Linux's ``prctl(PR_SET_PDEATHSIG)``: that signal fires when the *thread* that
    started the worker ends, and ProcessPoolExecutor starts workers from whichever thread submits (or from
    its management thread), so it could kill healthy workers; it is also Linux-only. A daemon thread that
    sees the worker re-parented (``os.getppid()`` changed) calls ``os._exit``.
    """
    import threading

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    if os.getppid() != parent_pid:  # the parent died before this worker finished starting
        os._exit(1)
    threading.Thread(target=watch, name="aigve-parent-watch", daemon=True).start()


def _prepare_when_decoded(prepare: Callable, batch: list[VideoItem], decodes: list[Future]) -> Any:
    """Run ``backend.prepare`` on a batch once its videos are decoded; None (prepare later, inline)
    when a video failed to decode or preparing fails: the model thread then redoes it with full error handling."""
    loaded = [f.result() for f in decodes]
    ready = [(it, v) for it, v in zip(batch, loaded, strict=True) if isinstance(v, SAMPLED)]
    if len(ready) != len(batch):
        return None
    try:
        return prepare([v for _, v in ready], [it.prompt for it, _ in ready])
    except Exception:  # noqa: BLE001 - reported by the inline retry in the model thread
        return None


class Evaluator:
    """Scores videos with one backend.

    ``sampling``: SamplingConfig or dict of its fields (backend defaults fill the rest).
    ``prefetch``: background workers decoding upcoming videos while the model runs, and how many
    batches they keep decoded ahead (0 decodes inline). ``workers``: ``thread`` (default: the decoders
    release the GIL, and frames need no copying; measured faster on 2-16 cores) or ``process`` (no GIL
    at all, frames are pickled back; a persistent ``spawn`` pool, released by :meth:`close`).
    """

    def __init__(self, backend: Backend, sampling: SamplingConfig | dict[str, Any] | None = None, *,
                 prefetch: int = 2, workers: str = "thread"):
        if workers not in DECODE_WORKERS:
            raise ConfigError("workers", workers, f"choose one of {', '.join(DECODE_WORKERS)}")
        self.backend = backend
        self.sampling = default_sampling(backend, sampling)
        self.prefetch = max(0, int(prefetch))
        self.workers = workers
        self._process_pool: Executor | None = None
        self._not_real_checked = False  # NotARealEvaluationWarning: asked once, at the first evaluation

    def _pool(self) -> tuple[Executor | None, bool]:
        """The decode pool and whether this call owns it (a thread pool per call; one process pool kept)."""
        if not self.prefetch:
            return None, False
        if self.workers == "thread":
            return ThreadPoolExecutor(self.prefetch), True
        if self._process_pool is None:
            # spawn: the parent holds torch's OpenMP threads, which fork can deadlock
            self._process_pool = ProcessPoolExecutor(self.prefetch, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=end_with_parent, initargs=(os.getpid(),))
        return self._process_pool, False

    def start_workers(self) -> None:
        """Start process workers now (each imports its modules once), e.g. to keep that out of a timing."""
        if self.workers != "process" or not self.prefetch:
            return  # thread pools start with each call, at no measurable cost
        pool, _ = self._pool()
        for future in [pool.submit(os.getpid) for _ in range(self.prefetch)]:
            future.result()

    def close(self) -> None:
        """Stop worker processes (``workers="process"``); thread pools end with each call."""
        if self._process_pool is not None:
            self._process_pool.shutdown(wait=True, cancel_futures=True)
            self._process_pool = None

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        return {**self.backend.describe(), "sampling": self.sampling.to_dict()}

    def _warn_if_not_real(self) -> None:
        """Once per evaluator: a :class:`~aigve.errors.NotARealEvaluationWarning` when its judge is not one."""
        if self._not_real_checked:
            return
        self._not_real_checked = True
        problem = not_a_real_evaluation(self.backend.describe())
        if problem:
            warnings.warn(f"NOT A REAL EVALUATION: these results come from {problem}", NotARealEvaluationWarning,
                          stacklevel=3)  # the user's line: it called evaluate() or iterates evaluate_many()

    def evaluate(self, video: str | os.PathLike, prompt: str, *, id: str | None = None) -> EvaluationResult:
        """Score one video. Returns a result; failures are in ``result.error`` (never raised)."""
        item = as_item({"video": os.fspath(video), "prompt": prompt, "id": id})
        self._warn_if_not_real()
        return next(self.evaluate_many([item]))

    def evaluate_many(
        self,
        items: Iterable[VideoItem | dict | tuple | str],
        *,
        batch_size: int = 1,
        on_result: Callable[[EvaluationResult], None] | None = None,
        infos: Mapping[str, VideoInfo] | None = None,
    ) -> Iterator[EvaluationResult]:
        """Score many videos, ``batch_size`` per backend call, yielding each result once its batch is done.

        With ``batch_size > 1``, each window of ``SORT_WINDOW_BATCHES * batch_size`` items is ordered by
        estimated input length (:func:`estimated_input_tokens`) before it is cut into batches, so a batch
        holds similar lengths and left padding stays small. Padding still changes bf16 logits, so greedy
        text can differ from ``batch_size=1``, the exactly reproducible setting; each record carries the
        effective batch size of its backend call in ``extra["batch_size"]``. Each result is yielded (and passed
        to ``on_result``) as soon as its batch is scored, in batch order (deterministic; input order when
        ``batch_size`` is 1): nothing scored is ever held back, so a crash loses no finished work. Decoding of the next ``prefetch`` batches overlaps the model call on the current one.
        ``infos``: probe results already in hand, keyed by item id (saves probing twice; also gives the
        visual part of the length estimate).
        """
        infos = dict(infos or {})
        if batch_size < 1:
            raise ConfigError("batch_size", batch_size, "must be >= 1")
        self._warn_if_not_real()
        todo = [as_item(it, i) for i, it in enumerate(items)]
        lengths = [estimated_input_tokens(it, infos.get(it.id), self.sampling) for it in todo]
        batches = length_sorted_batches(lengths, batch_size, SORT_WINDOW_BATCHES * batch_size)
        pool, owned = self._pool()
        # The backend's CPU preprocessing (HF processor) of a decoded batch also runs ahead, in one more
        # thread, so it never waits in the decode pool behind the jobs it depends on (no deadlock).
        prepare = self.backend.prepare if pool and self.workers == "thread" else None
        prep_pool = ThreadPoolExecutor(1) if prepare else None

        def start(batch: list[VideoItem]) -> tuple[list[Future | VideoInfo | None], Future | None]:
            """Start decoding (and preparing) in the pools; without them, hand the probe info on."""
            if not pool:
                return [infos.get(it.id) for it in batch], None
            decodes = [pool.submit(decode_item, it, self.sampling, infos.get(it.id)) for it in batch]
            return decodes, prep_pool.submit(_prepare_when_decoded, prepare, batch, decodes) if prep_pool else None

        def release(positions: list[int], results: list[EvaluationResult]) -> Iterator[EvaluationResult]:
            # Written at once, never held back for input order: a crash must not lose finished work.
            for result in results:
                if on_result:
                    on_result(result)
                yield result

        try:
            pending: list[tuple[list[int], tuple]] = []
            for positions in batches:
                batch = [todo[i] for i in positions]
                pending.append((positions, (batch, start(batch))))
                if pool and len(pending) <= self.prefetch:
                    continue  # keep `prefetch` batches decoding ahead of the model
                positions, job = pending.pop(0)
                yield from release(positions, self._finish(job))
            while pending:
                positions, job = pending.pop(0)
                yield from release(positions, self._finish(job))
        finally:
            for executor in (pool if owned else None, prep_pool):
                if executor:
                    executor.shutdown(wait=False, cancel_futures=True)

    def decode(self, item: VideoItem, info: VideoInfo | None = None) -> SampledVideo | EvaluationResult:
        """Decode and sample one item with this evaluator's sampling (an error record when it fails); the
        first half of a scoring step, for engines that decode elsewhere (:mod:`aigve.run.ray_engine`)."""
        return decode_item(item, self.sampling, info)

    def score_decoded(self, batch: Sequence[VideoItem],
                      loaded: Sequence[SampledVideo | EvaluationResult]) -> list[EvaluationResult]:
        """Score ``batch`` whose videos were decoded already (``loaded[i]``: its frames, or the error record of
        a failed decode, passed through): the second half of a scoring step, one backend call, the same
        records as :meth:`evaluate_many`."""
        self._warn_if_not_real()
        return self._score_batch(batch, loaded)

    def _finish(self, pending: tuple) -> list[EvaluationResult]:
        batch, (futures, prepared) = pending
        loaded = [f.result() if isinstance(f, Future) else decode_item(it, self.sampling, f)
                  for it, f in zip(batch, futures, strict=True)]
        prepared = prepared.result() if prepared is not None else None
        return self._score_batch(batch, loaded, prepared)

    def _score_batch(self, batch: Sequence[VideoItem], loaded: Sequence[SampledVideo | SampledPair | EvaluationResult],
                     prepared: Any = None) -> list[EvaluationResult]:
        outputs: dict[str, BackendOutput | EvaluationResult] = {}
        ready = []
        for it, v in zip(batch, loaded, strict=True):
            if not isinstance(v, SAMPLED):
                continue
            wrong = count_mismatch(it, self.backend.videos_per_item, self.backend.name)
            if wrong is None:
                ready.append((it, v))
            else:
                outputs[it.id] = wrong
        sizes = dict.fromkeys((it.id for it in batch), len(ready))  # effective batch of each backend call
        if ready:
            start = time.perf_counter()
            videos, prompts = [v for _, v in ready], [it.prompt for it, _ in ready]
            try:
                if prepared is not None:
                    outs = self.backend.score(videos, prompts, prepared=prepared)
                else:
                    outs = self.backend.score(videos, prompts)
                if len(outs) != len(ready):
                    raise RuntimeError(f"backend returned {len(outs)} outputs for {len(ready)} videos")
                share = (time.perf_counter() - start) / len(ready)
                for (it, _), out in zip(ready, outs, strict=True):
                    out.timings.setdefault("model_s", share)
                    outputs[it.id] = out
            except Exception as exc:  # noqa: BLE001 - one bad video must not sink the batch
                if len(ready) > 1:
                    log.warning("batch of %d failed (%s); retrying one by one", len(ready), exc)
                    for it, v in ready:
                        outputs[it.id] = self._score_batch([it], [v])[0]
                        sizes[it.id] = 1
                else:
                    it, v = ready[0]
                    log.warning("%s: backend failed: %s", it.video, exc)
                    outputs[it.id] = EvaluationResult.failed(it.id, it.video, it.prompt, exc, stage="model",
                                                             sampling=v.sampling_record(), second=it.second,
                                                             backend=self.backend.describe())
        results = []
        for it, v in zip(batch, loaded, strict=True):
            if isinstance(v, EvaluationResult):
                results.append(v)
            else:
                out = outputs[it.id]
                result = out if isinstance(out, EvaluationResult) else self._to_result(it, v, out)
                result.extra["batch_size"] = sizes[it.id]
                results.append(result)
            results[-1].meta = dict(it.meta)
        return results

    def _to_result(self, item: VideoItem, video: SampledVideo | SampledPair, out: BackendOutput) -> EvaluationResult:
        """The record of one scored item. The answer is parsed here as AIGVE-MACS JSON unless the backend parsed
        it already (``out.parsed``: a profile with its own output format; ``out.preference``: a pairwise judge).
        The backend's ``describe()`` says what it judges (``judged_aspects``; ``aspect_set`` for a profile's own
        aspects)."""
        from aigve.parsing import parse_response

        timings = {"decode_s": video.decode_s, "preprocess_s": out.timings.get("preprocess_s", 0.0),
                   "model_s": out.timings.get("model_s", 0.0)}
        described = self.backend.describe()
        common = dict(sampling=video.sampling_record(), backend=described, raw_text=out.text,
                      expected_scores=out.expected_scores, confidence=out.confidence, extra=dict(out.extra),
                      second=item.second, preference=out.preference, aspect_set=described.get("aspect_set"))
        if out.num_generated_tokens is not None:
            common["extra"]["generated_tokens"] = out.num_generated_tokens
        start = time.perf_counter()
        try:
            parsed = out.parsed if out.parsed is not None else parse_response(out.text or "")
        except ResponseParseError as exc:
            timings["parse_s"] = time.perf_counter() - start
            timings["total_s"] = sum(timings.values())
            return EvaluationResult.failed(item.id, item.video, item.prompt, exc, stage="parse", timings=timings, **common)
        timings["parse_s"] = time.perf_counter() - start
        timings["total_s"] = sum(timings.values())
        # what the backend really judges (signals: three aspects and a pixel-only overall); a record missing
        # any of these is "partial"
        judged = described.get("judged_aspects")
        judged = list(ASPECT_KEYS if judged is None else judged)  # [] for a pairwise judge: nothing scored
        return EvaluationResult(id=item.id, video=item.video, prompt=item.prompt, scores=dict(parsed.scores),
                                comments=dict(parsed.comments), parse_flags=list(parsed.flags), timings=timings,
                                judged_aspects=judged, **common)


def estimated_input_tokens(item: VideoItem, info: VideoInfo | None, sampling: SamplingConfig) -> int:
    """Rough input length of one item in tokens, for grouping similar lengths into a batch (never decodes):
    the visual tokens its sampling plan costs (0 without probe ``info`` or when it cannot be planned) plus
    the prompt at ~4 characters per token (the instruction around it is the same for every item)."""
    visual = 0
    if info is not None:
        from aigve.sampling import plan_sampling

        try:
            visual = plan_sampling(info, sampling).visual_tokens
        except (ValueError, ZeroDivisionError):
            visual = 0  # the decode reports the problem; for ordering it is just "unknown"
    return visual + -(-len(item.prompt) // 4)


def length_sorted_batches(lengths: Sequence[int], size: int, window: int) -> list[list[int]]:
    """Batches of item positions: each ``window`` consecutive items sorted by ``lengths`` (stable, so equal
    lengths keep input order) and cut into batches of ``size``. ``size`` 1 keeps input order. Pure.

    >>> length_sorted_batches([9, 1, 8, 2, 5], 2, 4)
    [[1, 3], [2, 0], [4]]
    """
    if size <= 1:
        return [[i] for i in range(len(lengths))]
    window = max(size, window)
    batches: list[list[int]] = []
    for lo in range(0, len(lengths), window):
        order = sorted(range(lo, min(lo + window, len(lengths))), key=lambda i: lengths[i])
        batches += [order[i:i + size] for i in range(0, len(order), size)]
    return batches


def list_backends() -> list[str]:
    """Names of the registered scoring backends."""
    from aigve.registry import BACKENDS

    return BACKENDS.names()


def check_backend_options(name: str, **options: Any) -> None:
    """Raise now (UnknownNameError, ConfigError) if ``name`` or an option is wrong, without building anything."""
    from aigve.registry import BACKENDS

    factory = BACKENDS.get(name)
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        accepted = [n for n in params if n != "self"]
        for key, value in options.items():
            if key not in params:
                raise ConfigError(key, value, f"backend {name!r} does not take this option; it takes: {', '.join(accepted) or 'none'}")
    for key, value in options.items():
        if key in params:
            check_option_type(key, value, params[key].annotation)


#: annotation words -> a check of one value; a word not listed (a class of ours, ``Any``) is not judged here
_TYPE_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "int": lambda n, x: validate.integer(n, x, low=-validate.ABSURD),
    "float": validate.finite,
    "bool": validate.boolean,
    "str": lambda n, x: validate.text(n, x, allow_empty=True),
    "os.PathLike": validate.path, "PathLike": validate.path, "Path": validate.path,
}


def check_option_type(key: str, value: Any, annotation: Any) -> None:
    """Raise ConfigError when a backend option's value fits none of the types its annotation names
    (``seed: int`` refuses ``nan``, ``"abc"``, ``[1]`` and ``1e400``; ``calibration: str | os.PathLike | ...``
    refuses ``123``), so a bad ``--backend-option`` stops before the model loads rather than deep inside it.
    Annotations are read as text (``from __future__ import annotations``); one that names a type this check
    does not know (``Any``, a class) accepts everything, and ``None`` in it accepts None."""
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    if annotation is inspect.Parameter.empty or not text:
        return
    words = [w.strip() for w in text.split("|")]
    if "Any" in words or (value is None and "None" in words):
        return
    for word in (w for w in words if w != "None"):
        check = _TYPE_CHECKS.get(word)
        if check is not None:
            if check is validate.finite and isinstance(value, bool):
                continue
            try:
                check(key, value)
                return
            except ConfigError:
                continue
        base = word.split("[")[0].split(".")[-1]
        if base in ("dict", "Mapping") and isinstance(value, dict):
            return
        if base in ("list", "tuple", "Sequence") and isinstance(value, (list, tuple)):
            return
        if any(base == t.__name__ for t in type(value).__mro__):  # an object of a class of ours, e.g. Calibration
            return
    raise ConfigError(key, value, f"must be {' or '.join(_type_word(w) for w in words if w != 'None')}"
                      + (" (or None)" if "None" in words else ""))


def _type_word(word: str) -> str:
    return {"int": "an integer", "float": "a finite number", "bool": "true or false", "str": "a string",
            "os.PathLike": "a path", "PathLike": "a path", "Path": "a path"}.get(word, f"a {word}")


def create_backend(name: str, **options: Any) -> Backend:
    """Instantiate a registered backend; options it does not accept raise ConfigError listing the ones it does."""
    from aigve.registry import BACKENDS

    check_backend_options(name, **options)
    return BACKENDS.get(name)(**options)


def load_evaluator(
    backend: str = "macs",
    model: str | None = None,
    adapter: str | None = None,
    *,
    sampling: SamplingConfig | dict[str, Any] | None = None,
    prefetch: int = 2,
    workers: str = "thread",
    **options: Any,
) -> Evaluator:
    """Build an :class:`Evaluator`.

    ``backend``: a name from :func:`list_backends` (``macs`` = Qwen2.5-VL judge through transformers,
    default model ``xiaoliux/AIGVE-MACS``; ``signals`` = classical pixel measurements; ``fake`` = tests).
    ``model``/``adapter``: hub id or local folder, and an optional LoRA adapter folder (macs).
    Other keyword options go to the backend (e.g. ``dtype``, ``device``, ``generation``).
    """
    if model is not None:
        options["model"] = model
    if adapter is not None:
        options["adapter"] = adapter
    return Evaluator(create_backend(backend, **options), sampling, prefetch=prefetch, workers=workers)
