"""The one batch loop: items -> probe -> evaluator -> results JSONL (+ CSV), resumable, under the folder's lock.

A sharded run uses the same loop: a shard only picks its items (:func:`aigve.sharding.select_shard`) and names
its results file (``results.rank{i}.jsonl``); :mod:`aigve.sharding` adds its state files and the merge.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigve.errors import AigveError
from aigve.evaluator import Evaluator, VideoItem
from aigve.run.folder import RESULTS_NAME, OutputExistsError, RunFolder, writing
from aigve.run.spec import check_spec
from aigve.runner import probe_items

if TYPE_CHECKING:
    from aigve.run.job import ScoreJob
    from aigve.sharding import ShardPlan

log = logging.getLogger(__name__)

EvaluatorSource = Evaluator | Callable[[], Evaluator]


@dataclass
class RunSummary:
    total: int
    scored: int
    failed: int
    skipped: int
    wall_s: float
    out_dir: Path
    merged: Path | None = None  # a shard: the merged results file when this rank merged them
    partial: tuple[str, ...] = ()
    """Ids of scored records missing some judged aspect (status ``partial``), counted within ``scored``."""

    def line(self) -> str:
        return summary_text(self.scored, self.failed, self.skipped, self.total, self.wall_s, self.out_dir / RESULTS_NAME,
                            partial=self.partial)


def summary_text(scored: int, failed: int, skipped: int, total: int, wall_s: float, results: Path, *,
                 partial: Collection[str] = ()) -> str:
    """The summary printed after a run (or one shard of it); partial records are counted and (up to 10) listed,
    so an answer that lost aspects never passes for a whole one."""
    from aigve.errors import console_safe

    rate = scored / wall_s if wall_s > 0 else 0.0
    text = (f"{scored} scored, {failed} failed, {skipped} skipped (resume) of {total} "
            f"in {wall_s:.1f} s ({rate:.2f} videos/s) -> {results}")
    if partial:
        shown = ", ".join(console_safe(p) for p in list(partial)[:10]) + (", ..." if len(partial) > 10 else "")
        text += f"\n{len(partial)} of the scored are partial (some judged aspect missing): {shown}"
    return text


def partial_ids(results: Path) -> tuple[str, ...]:
    """Ids of the newest records in ``results`` whose status is ``partial``."""
    from aigve.results import iter_records, latest_by_id, record_status

    if not results.exists():
        return ()
    return tuple(str(r.get("id")) for r in latest_by_id(iter_records(results)).values()
                 if record_status(r) == "partial")


def _materialise(evaluator: EvaluatorSource) -> Evaluator:
    """An evaluator, building it now when given a factory (so bad inputs are found before a model loads)."""
    return evaluator if isinstance(evaluator, Evaluator) else evaluator()


def run_batch(
    evaluator: EvaluatorSource,
    items: list[VideoItem],
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    batch_size: int = 1,
    progress: bool = True,
    probe_first: bool = True,
    spec: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    job: Mapping[str, Any] | None = None,
    shard: ShardPlan | None = None,
) -> RunSummary:
    """Score ``items`` into ``out_dir/results.jsonl`` (appended and flushed per video) and
    ``results.csv`` (rewritten atomically at the end, also after Ctrl-C). The folder's lock is held throughout:
    a second run into it fails at once (:class:`aigve.run.folder.FolderInUseError`). With ``resume`` videos
    already scored successfully are skipped; failed ones are tried again, and at the end the results file keeps
    only the newest record per video (see :func:`aigve.results.compact_results`). Inputs that fail the probe get
    an error record without reaching the model. ``evaluator`` may be a factory: it is called only after the
    probe, and only if some input passed it. ``spec``/``settings``: the run's identity and its runtime settings
    (:class:`aigve.run.spec.RunSpec`), recorded in ``run.json`` with ``job`` (what a replay needs); with
    ``resume``, a ``spec`` that differs from the recorded one raises before anything is scored.

    ``shard``: score one shard only (:class:`aigve.sharding.ShardPlan`): it picks the items and names the
    results file (``results.rank{i}.jsonl``, locked per rank: ranks share the folder), and keeps its state file;
    the last rank to finish merges. ``summary.total`` is then the shard's item count.
    """
    folder = RunFolder(Path(out_dir), rank=None if shard is None else shard.rank).make()
    mine = list(items) if shard is None else shard.pick(items)
    with folder.lock():
        folder.refuse_existing(resume)
        if shard is not None:
            shard.check(folder, resume=resume, spec=spec)
        begin_run(folder, spec, settings, resume=resume, items=len(items), job=job)
        if shard is not None:
            shard.started(folder, items, spec=spec)
        start = time.perf_counter()
        scored, failed, skipped = score_into(recording(evaluator, folder, len(items), batch_size), mine,
                                             folder.results, resume=resume, batch_size=batch_size,
                                             progress=progress, probe_first=probe_first,
                                             on_end=finish(folder, resume, csv=shard is None))
        summary = RunSummary(len(mine), scored, failed, skipped, time.perf_counter() - start, folder.path,
                             partial=partial_ids(folder.results))
        if shard is not None:
            summary.merged = shard.finished(folder, items, spec=spec)
    return summary


@dataclass
class JobOutcome:
    """What :func:`run_job` did: the summary (a :class:`aigve.sharding.ShardSummary` for a shard), the items of
    the run, and the evaluator's description (None when no model was built: every input failed the probe)."""

    summary: Any
    items: list[VideoItem]
    described: dict[str, Any] | None


def run_job(job: ScoreJob, *, build: Callable[[ScoreJob], Evaluator] | None = None) -> JobOutcome:
    """Run a :class:`~aigve.run.job.ScoreJob` (the Python API's and ``aigve score``'s way in): collect and
    probe its inputs, check its options and model sources before anything is written, then, under the folder's
    lock (held from the discard of ``overwrite`` to the last record), score with :func:`run_batch`. ``build``:
    job -> evaluator (default :func:`aigve.run.job.build_evaluator`), called only if some input passed the
    probe; the evaluator is closed (decode workers stopped) however the run ends."""
    from aigve.backends.base import uses_prompt
    from aigve.evaluator import check_backend_options
    from aigve.run.job import build_evaluator, check_sources
    from aigve.runner import collect_items
    from aigve.sharding import ShardPlan, ShardSummary, rank_device

    if job.engine == "ray":  # the same job and folder, scheduled by Ray Data
        from aigve.run.ray_engine import run_ray_job

        return run_ray_job(job, job.ray_options(), build=build)

    check_backend_options(job.backend, **job.options())
    items = collect_items(job.inputs, prompt=job.prompt, uses_prompt=uses_prompt(job.backend))
    if job.limit is not None:
        items = items[: job.limit]
    device = rank_device(job.backend_options.get("device"))
    if device != job.backend_options.get("device"):
        job = job.replace(backend_options={**job.backend_options, "device": device})
    # Pre-flight: a model or adapter that cannot be found fails here, before overwrite discards anything and
    # before any output file or progress bar exists.
    check_sources(job.backend, job.options())
    spec, settings = job.spec()  # what decides the scores: recorded in run.json, compared on resume
    settings["engine"] = {"name": "local"}  # a setting: a run resumes on either engine
    shard = job.shard_rank()
    summary, built = score_folder(lambda: (build or build_evaluator)(job), items, job.out, overwrite=job.overwrite,
                                  resume=job.resume, batch_size=job.batch_size, progress=job.progress,
                                  spec=spec.to_dict(), settings=settings, job=job.record(),
                                  shard=None if shard is None else ShardPlan(*shard, job.shard_method, job.merge))
    if shard is not None:
        summary = ShardSummary(*shard, summary.total, summary.scored, summary.failed, summary.skipped,
                               summary.wall_s, summary.out_dir, summary.merged)
    return JobOutcome(summary, items, built.describe() if built else None)


def score_folder(build: Callable[[], Evaluator], items: list[VideoItem], out: str | os.PathLike, *,
                 overwrite: bool = False, shard: ShardPlan | None = None,
                 **options: Any) -> tuple[RunSummary, Evaluator | None]:
    """Score ``items`` into the run folder ``out`` with :func:`run_batch` (``options``: its keyword options), the
    evaluator built by ``build()`` only once some input passed the probe, and closed (decode workers stopped)
    however the run ends. Under the folder's lock, held from the discard of ``overwrite`` to the last record.
    The one way in for every command that scores a list of items (``aigve score``, ``aigve benchmark run``).
    Returns the summary and the evaluator, if one was built."""
    folder = RunFolder(Path(out), rank=None if shard is None else shard.rank).make()
    built: list[Evaluator] = []

    def evaluator() -> Evaluator:  # built after the probe, so bad inputs are reported before a model loads
        if not built:
            built.append(build())
        return built[0]

    try:
        with folder.lock():
            if overwrite:
                folder.discard()
            summary = run_batch(evaluator, items, out, shard=shard, **options)
    finally:
        if built:
            built[0].close()
    return summary, built[0] if built else None


def finish(folder: RunFolder, resume: bool, *, csv: bool = True) -> Callable[[], None]:
    """What ends a run, also after Ctrl-C or a failure: compact a resumed file (one record per video), then
    (``csv``: an unsharded run) rewrite the CSV, atomically: a full disk leaves the previous CSV whole."""
    def end() -> None:
        from aigve.results import compact_results, iter_records, latest_by_id, write_csv

        if not folder.results.exists():
            return
        if resume:  # retried failures left their old records behind: keep the newest per video
            with writing(folder.results):
                compact_results(folder.results)
        if csv:
            with writing(folder.csv):
                write_csv(latest_by_id(iter_records(folder.results)).values(), folder.csv)

    return end


def score_into(
    evaluator: EvaluatorSource,
    items: list[VideoItem],
    results_path: Path,
    *,
    resume: bool = False,
    batch_size: int = 1,
    progress: bool = True,
    probe_first: bool = True,
    on_end: Callable[[], None] | None = None,
) -> tuple[int, int, int]:
    """The scoring loop: probe, score, append each record to ``results_path``. Returns ``(scored, failed,
    skipped)``; refuses to append to an existing file unless ``resume``. A factory ``evaluator`` is called after
    the probe, only if there is work left. ``on_end`` runs after the loop however it ends (the CSV rewrite); when
    the loop itself failed, a failure of ``on_end`` is logged, not raised, so the user sees the first error
    alone (a full disk used to print three chained tracebacks)."""
    from aigve.results import ResultWriter, done_ids

    if results_path.exists() and results_path.stat().st_size and not resume:
        raise OutputExistsError(results_path, resumable=True)
    done = done_ids(results_path) if resume else set()
    todo = [it for it in items if it.id not in done]
    skipped = len(items) - len(todo)
    counts = [0, 0]  # scored, failed
    bar = _progress(len(todo), progress)
    failed_already = False
    try:
        with writing(results_path):
            writer = ResultWriter(results_path)
        try:
            _loop(evaluator, todo, writer, results_path, batch_size, probe_first, counts, bar)
        finally:
            with contextlib.suppress(OSError):  # a full disk: the record lines already flushed are kept
                writer.close()
    except BaseException:
        failed_already = True
        raise
    finally:
        bar.close()
        if on_end is not None:
            try:
                on_end()
            except AigveError as exc:
                if not failed_already:
                    raise
                log.warning("%s", exc)
    return counts[0], counts[1], skipped


def _loop(evaluator: EvaluatorSource, todo: list[VideoItem], writer: Any, results_path: Path, batch_size: int,
          probe_first: bool, counts: list[int], bar: Any) -> None:
    from aigve.results import EvaluationResult

    infos = {}
    if probe_first:
        report = probe_items(todo)
        for it, exc in report.failed:
            with writing(results_path):
                writer.write(EvaluationResult.failed(it.id, it.video, it.prompt, exc, stage="probe",
                                                     meta=dict(it.meta), second=it.second))
            counts[1] += 1
            bar.update(1)
        todo = [it for it, _ in report.ok]
        infos = {it.id: info for it, info in report.ok}
    if not todo:
        return
    for result in _materialise(evaluator).evaluate_many(todo, batch_size=batch_size, infos=infos):
        with writing(results_path):
            writer.write(result)
        counts[0] += result.ok
        counts[1] += not result.ok
        bar.update(1)
        bar.set_postfix(failed=counts[1])


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="video", desc="scoring", disable=not enabled, dynamic_ncols=True)


# ------------------------------------------------------------------------------ run.json: identity + settings


def begin_run(folder: RunFolder, spec: Mapping[str, Any] | None, settings: Mapping[str, Any] | None = None,
              *, resume: bool, items: int, job: Mapping[str, Any] | None = None) -> None:
    """Check ``spec`` against the folder's results (:func:`aigve.run.spec.check_spec`), then record it in run.json,
    before anything is scored. A run that adds to existing results keeps the recorded start time (and spec when
    given none); a resume also notes when it ``resumed``. Versions and the source commit are recorded each time."""
    from aigve.run.environment import environment

    if spec is not None:
        check_spec(folder, spec)
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    info = folder.read_info() if resume or folder.has_results() else {}
    info.setdefault("started", now)
    if resume:
        info["resumed"] = now
    import aigve

    info.update(aigve_version=aigve.__version__, python=platform.python_version(), items=items)
    info["environment"] = environment()
    if spec is not None:
        info["spec"] = dict(spec)
    if job is not None:
        info["job"] = dict(job)
    if settings is not None:
        info["settings"] = dict(settings)
        info["batch_size"] = settings.get("batch_size", info.get("batch_size"))
    folder.write_info(info)


def _check_served_model(folder: RunFolder, recorded: Any, now: Mapping[str, Any]) -> None:
    """A server-backed judge (vLLM client) is known only once connected: refuse to add to results scored
    with another served model (the run spec cannot see it; servers may differ per node or move)."""
    from aigve.run.folder import SpecMismatchError

    before = recorded if isinstance(recorded, Mapping) else {}
    if now.get("mode") != "client" or before.get("mode") != "client" or not folder.has_results():
        return
    if before.get("model") != now.get("model"):
        raise SpecMismatchError(folder.path, f"the results here were scored with the model {before.get('model')!r} "
                                             f"served by {before.get('server_url')}; {now.get('server_url')} serves "
                                             f"{now.get('model')!r}. Point `server_url` at a server of that model, or "
                                             f"use another `out`")


def recording(evaluator: EvaluatorSource, folder: RunFolder, n: int, batch_size: int) -> Callable[[], Evaluator]:
    """A factory that builds ``evaluator`` (when it is one) and adds its description to run.json."""
    def ready() -> Evaluator:
        built = _materialise(evaluator)
        info, described = folder.read_info(), built.describe()
        _check_served_model(folder, info.get("evaluator"), described)
        info.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        info.update(items=n, batch_size=batch_size, evaluator=described)
        folder.write_info(info)
        return built

    return ready
