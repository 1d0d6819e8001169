"""``--engine ray``: the same :class:`~aigve.run.job.ScoreJob` and results folder, run as a Ray Data pipeline.

items (ids already done filtered out, inputs that fail the probe recorded by the driver, as the local loop does)
-> decode + frame sampling in CPU tasks (``map_batches`` over items; one item per task, so a slow video does not
hold others back) -> the judge in an actor pool (``map_batches`` with a callable class, ``concurrency`` actors,
``num_gpus`` per actor when CUDA is present; each actor builds its evaluator once with
:func:`aigve.run.job.build_evaluator`) -> records streamed back to the driver (``iter_batches`` over blocks as
they finish), which alone appends them to ``results.jsonl``, flushed and fsync'ed per record, under the folder's
lock. A killed job therefore loses only the items in flight: ``--resume`` skips every id already written.

What differs from the local loop (:func:`aigve.run.batch.score_into`): records arrive in completion order, not
batch order; the length sorting of batches within a window is not done (Ray Data cuts batches in input order);
a backend whose sampling depends on its checkpoint (``macs``, ``macs-scores``, ``vllm``: the processor's pixel
caps) decodes inside the actor, since the driver cannot know its frame rules without loading it. The records
themselves are the same: both engines call :meth:`aigve.evaluator.Evaluator.score_decoded`'s batch step.

``ray`` is imported lazily; without it the run stops with one line naming the ``ray`` extra.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aigve.core import validate as v
from aigve.errors import ConfigError

if TYPE_CHECKING:
    from aigve.evaluator import Evaluator, VideoItem
    from aigve.run.batch import JobOutcome
    from aigve.run.folder import RunFolder
    from aigve.run.job import ScoreJob

log = logging.getLogger(__name__)

#: CPUs reserved per decode task and per judge actor (an actor mostly waits on its GPU).
DECODE_CPUS, ACTOR_CPUS = 1.0, 0.5
RAY_MISSING = "needs Ray Data: pip install 'aigve-macs[ray]' (or choose engine local)"


@dataclass(frozen=True)
class RayOptions:
    """How the Ray engine runs. ``address``: a Ray cluster (``ray://host:10001``, ``auto``, ``host:6379``);
    None starts a local Ray (``ray.init()``). ``actors``: judge actors (each holds one evaluator). ``gpus_per_actor``:
    GPUs each actor reserves; None: 1 when this machine has CUDA, else 0. ``num_cpus``: CPUs of a local Ray
    (None: all)."""

    address: str | None = None
    actors: int = 1
    gpus_per_actor: float | None = None
    num_cpus: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", v.optional(v.text, "address", self.address))
        object.__setattr__(self, "actors", v.positive_int("ray_actors", self.actors, high=4096))
        object.__setattr__(self, "gpus_per_actor",
                           v.optional(v.non_negative, "ray_gpus_per_actor", self.gpus_per_actor, high=64.0))
        object.__setattr__(self, "num_cpus", v.optional(v.positive_int, "ray_num_cpus", self.num_cpus, high=100_000))

    def gpus(self) -> float:
        if self.gpus_per_actor is not None:
            return float(self.gpus_per_actor)
        try:
            import torch
        except ImportError:
            return 0.0
        return 1.0 if torch.cuda.is_available() else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": "ray", "address": self.address, "actors": self.actors, "gpus_per_actor": self.gpus()}


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] part of the extra
    except ImportError:
        raise ConfigError("engine", "ray", RAY_MISSING) from None
    return ray


# ------------------------------------------------------------------------------------------- the pipeline


def _decode(batch: dict[str, Any], sampling: Any) -> dict[str, Any]:
    """CPU task: decode and sample each item (``sampling``: a SamplingConfig, or None when only the judge's
    actor knows its frame rules: the item then passes through undecoded). Rows carry pickles: frames are uint8
    arrays inside a SampledVideo, a failed decode an error record."""
    import numpy as np

    from aigve.items import decode_item

    loaded = []
    for item_bytes, info_bytes in zip(batch["item"], batch["info"], strict=True):
        if sampling is None:
            loaded.append(b"")
            continue
        loaded.append(pickle.dumps(decode_item(pickle.loads(item_bytes), sampling, pickle.loads(info_bytes))))
    return {"item": batch["item"], "info": batch["info"], "loaded": np.array(loaded, dtype=object)}


class _Judge:
    """The judge actor: builds its evaluator once (``build(job)``), then scores each batch of decoded items."""

    def __init__(self, job: dict[str, Any], build: Any):
        from aigve.run.job import ScoreJob

        self.evaluator: Evaluator = build(ScoreJob(**job))
        self.described = json.dumps(self.evaluator.describe(), default=str)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        items: list[VideoItem] = [pickle.loads(b) for b in batch["item"]]
        loaded = [pickle.loads(b) if len(b) else self.evaluator.decode(it, pickle.loads(info))
                  for it, b, info in zip(items, batch["loaded"], batch["info"], strict=True)]
        results = self.evaluator.score_decoded(items, loaded)
        records = [json.dumps(r.to_record(), ensure_ascii=False, default=str) for r in results]
        return {"record": np.array(records, dtype=object),
                "described": np.array([self.described] * len(records), dtype=object)}


def _driver_sampling(job: ScoreJob) -> Any:
    """The sampling config the CPU tasks decode with, when it is known without loading a checkpoint."""
    from aigve.run.job import CHECKPOINT_BACKENDS, build_evaluator

    if job.backend in CHECKPOINT_BACKENDS:
        return None
    evaluator = build_evaluator(job)
    try:
        return evaluator.sampling
    finally:
        evaluator.close()


def score_on_ray(job: ScoreJob, options: RayOptions, items: list[VideoItem], folder: RunFolder,
                 build: Any) -> tuple[int, int, int]:
    """Score ``items`` into ``folder.results`` on Ray; returns ``(scored, failed, skipped)`` like
    :func:`aigve.run.batch.score_into`. Call under the folder's lock."""
    from aigve.results import EvaluationResult, ResultWriter, done_ids
    from aigve.run.folder import writing
    from aigve.runner import probe_items

    done = done_ids(folder.results) if job.resume else set()
    todo = [it for it in items if it.id not in done]
    skipped, counts = len(items) - len(todo), [0, 0]
    with writing(folder.results):
        writer = ResultWriter(folder.results)
    try:
        report = probe_items(todo)
        for it, exc in report.failed:  # the same records as the local loop's probe stage
            with writing(folder.results):
                writer.write(EvaluationResult.failed(it.id, it.video, it.prompt, exc, stage="probe", meta=dict(it.meta)))
            counts[1] += 1
        if report.ok:
            written: set[str] = set()
            for record in _stream(job, options, report.ok, build, folder):
                if record["id"] in written:  # a retried task's output seen twice: one record per id
                    log.warning("%s: scored twice (a retried Ray task); kept the first record", record["id"])
                    continue
                written.add(record["id"])
                with writing(folder.results):
                    writer.write(record)
                ok = record.get("error") is None
                counts[0] += ok
                counts[1] += not ok
    finally:
        writer.close()
    return counts[0], counts[1], skipped


def _stream(job: ScoreJob, options: RayOptions, ready: list[tuple[VideoItem, Any]], build: Any,
            folder: RunFolder) -> Any:
    """Yield record dicts as the actor pool finishes them."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=options.address, num_cpus=options.num_cpus if options.address is None else None,
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = job.progress
        rows = [{"item": pickle.dumps(it), "info": pickle.dumps(info)} for it, info in ready]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        # Different CPU shares keep the two stages apart: Ray would otherwise fuse decoding into the actors.
        ds = ds.map_batches(_decode, batch_size=1, num_cpus=DECODE_CPUS, fn_kwargs={"sampling": _driver_sampling(job)})
        ds = ds.map_batches(_Judge, batch_size=job.batch_size, num_cpus=ACTOR_CPUS, num_gpus=options.gpus(),
                            compute=ray.data.ActorPoolStrategy(size=options.actors),
                            fn_constructor_kwargs={"job": job.to_dict(), "build": build})
        described = False
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):  # blocks as they finish
            if not described and len(batch["described"]):
                info = folder.read_info()
                info["evaluator"] = json.loads(batch["described"][0])
                folder.write_info(info)
                described = True
            for text in batch["record"]:
                yield json.loads(text)
    finally:
        if started:
            ray.shutdown()


def run_ray_job(job: ScoreJob, options: RayOptions, *, build: Any = None) -> JobOutcome:
    """:func:`aigve.run.batch.run_job` on Ray: the same checks before anything is written, the same run.json
    (spec, settings with ``engine``, job), the same lock, resume rule and final compaction + CSV."""
    from aigve.backends.base import uses_prompt
    from aigve.evaluator import check_backend_options
    from aigve.run.batch import JobOutcome, RunSummary, begin_run, finish, partial_ids
    from aigve.run.folder import RunFolder
    from aigve.run.job import build_evaluator, check_sources
    from aigve.runner import collect_items

    if job.shard_rank() is not None:
        raise ConfigError("engine", "ray", "a Ray run schedules its own workers; drop shard, or use engine local to run a shard")
    import_ray()  # a missing extra fails before anything is written
    check_backend_options(job.backend, **job.options())
    items = collect_items(job.inputs, prompt=job.prompt, uses_prompt=uses_prompt(job.backend))
    if job.limit is not None:
        items = items[: job.limit]
    check_sources(job.backend, job.options())
    spec, settings = job.spec()
    settings["engine"] = options.to_dict()
    folder = RunFolder(job.out).make()
    with folder.lock():
        if job.overwrite:
            folder.discard()
        folder.refuse_existing(job.resume)
        begin_run(folder, spec.to_dict(), settings, resume=job.resume, items=len(items), job=job.record())
        start = time.perf_counter()
        end = finish(folder, job.resume)
        try:
            scored, failed, skipped = score_on_ray(job, options, items, folder, build or build_evaluator)
        finally:
            end()
        summary = RunSummary(len(items), scored, failed, skipped, time.perf_counter() - start, folder.path,
                             partial=partial_ids(folder.results))
    described = folder.read_info().get("evaluator")
    return JobOutcome(summary, items, described if isinstance(described, dict) else None)
