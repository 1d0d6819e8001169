"""``aigve bench``: the released usage and aigve's scoring paths, side by side, on the same videos and weights.

Paths (``BenchConfig.paths``), all sharing one loaded model:

* ``reference`` - :mod:`aigve.bench.reference`, the released usage as the model card runs it (1 fps from
  t = 0 -> PNG files -> qwen-vl-utils at 476 x 840 -> the card's instruction -> processor with
  ``second_per_grid_ts`` 2.0 as released -> batch-1 generate). Every ratio is against this path.
* ``default`` - :class:`aigve.evaluator.Evaluator` with the ``macs`` backend, batch 1: frames go to the
  processor as arrays with their timing metadata, the next video decodes in a thread while the model runs.
* ``batched`` - the same with ``batch_size`` videos per left-padded ``generate`` call.
* ``batched-processes`` (optional) - ``batched`` with decoding in worker processes instead of threads.
* ``scores-only`` - :class:`aigve.backends.scoreonly.ScoreOnlyBackend`, one teacher-forced forward pass per
  batch, no comments.
* ``vllm`` - :class:`aigve.backends.vllm.VllmBackend` in-process, when vllm is installed and a GPU is present
  (otherwise reported as skipped with the reason).

Per path: seconds per video per stage (decode, preprocess, model, parse), wall time, videos/s, generated
tokens/s, the share of wall time not spent in the model, peak RSS (this process and its children) and peak
CUDA memory, and the ratios to ``reference``. Stage seconds are summed per video; on the aigve paths decoding
runs in the background, so the stages can add up to more than the wall time.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aigve.bench.memory import PeakMemory
from aigve.bench.reference import REFERENCE_DESCRIPTION
from aigve.evaluator import Evaluator, VideoItem

log = logging.getLogger(__name__)

STAGES = ("decode_s", "preprocess_s", "model_s", "parse_s")
PATH_LABELS = {
    "reference": "(a) reference: released usage",
    "default": "(b) aigve default",
    "batched": "(c) aigve batched",
    "batched-processes": "(c') aigve batched, process decode",
    "scores-only": "(d) score-only",
    "vllm": "(e) vLLM",
}
DEFAULT_PATHS = ("reference", "default", "batched", "scores-only", "vllm")


@dataclass
class BenchConfig:
    """What to run. ``max_new_tokens`` caps every generating path (the released usage uses 1500);
    ``force_new_tokens`` makes every path generate exactly that many tokens (random-weight models).
    ``sampling``: SamplingConfig fields for the aigve paths (backend defaults fill the rest).
    ``warmup``: videos run once through ``default`` and ``reference`` before timing (first-call costs).
    ``threads``: torch intra-op threads for every path (None keeps torch's default, one per core).
    ``profile``: the judge profile of the measured aigve paths (None: as scoring chooses it, recorded with the
    checkpoint else ``macs-card``); the reference path is always the released usage (macs-card through
    qwen-vl-utils)."""

    model: str
    paths: Sequence[str] = DEFAULT_PATHS
    batch_size: int = 4
    max_new_tokens: int = 1500
    force_new_tokens: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    attn_implementation: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    prefetch: int = 2
    warmup: int = 1
    score_fill: str = "placeholder"
    threads: int | None = None
    vllm_options: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None

    def __post_init__(self) -> None:
        from aigve.errors import ConfigError

        unknown = [p for p in self.paths if p not in PATH_LABELS]
        if unknown:
            raise ConfigError("paths", ",".join(unknown), f"unknown bench path; choose from {', '.join(PATH_LABELS)}")
        if self.batch_size < 1:
            raise ConfigError("batch_size", self.batch_size, "must be >= 1")


@dataclass
class PathResult:
    """Measurements of one path. ``stage_s``: seconds summed over videos; ``per_video``: one dict per video."""

    name: str
    label: str
    status: str = "ok"
    reason: str | None = None
    batch_size: int = 1
    videos: int = 0
    failed: int = 0
    wall_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    generated_tokens: int = 0
    visual_tokens: float | None = None
    peak_rss_mib: float | None = None
    peak_gpu_mib: float | None = None
    per_video: list[dict[str, Any]] = field(default_factory=list)

    @property
    def videos_per_s(self) -> float | None:
        return self.videos / self.wall_s if self.status == "ok" and self.wall_s > 0 else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.generated_tokens / self.wall_s if self.generated_tokens and self.wall_s > 0 else None

    @property
    def overhead_fraction(self) -> float | None:
        """Share of wall time not spent inside the model call (decode waits, preprocessing, parsing, glue)."""
        if self.status != "ok" or self.wall_s <= 0:
            return None
        return max(0.0, 1.0 - self.stage_s["model_s"] / self.wall_s)

    def to_dict(self, reference: PathResult | None = None) -> dict[str, Any]:
        d = asdict(self)
        n = max(self.videos, 1)
        d.update(stage_s_per_video={k: v / n for k, v in self.stage_s.items()},
                 wall_s_per_video=self.wall_s / n if self.videos else None, videos_per_s=self.videos_per_s,
                 tokens_per_s=self.tokens_per_s, overhead_fraction=self.overhead_fraction,
                 speedup_vs_reference=_ratio(self.videos_per_s, reference and reference.videos_per_s),
                 rss_vs_reference=_ratio(self.peak_rss_mib, reference and reference.peak_rss_mib),
                 gpu_vs_reference=_ratio(self.peak_gpu_mib, reference and reference.peak_gpu_mib))
        return d


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


@dataclass
class BenchReport:
    config: BenchConfig
    environment: dict[str, Any]
    videos: list[str]
    paths: list[PathResult]
    agreement: dict[str, Any]
    complete: bool = True  # False: written part-way, after some of the configured paths
    sanity: dict[str, Any] | None = None  # ``run_bench(sanity=...)``'s answer: the judge's sanity summary
    profile: dict[str, Any] | None = None  # the measured paths' judge profile: name, sha256, where it came from

    def path(self, name: str) -> PathResult | None:
        return next((p for p in self.paths if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        ref = self.path("reference")
        ref = ref if ref is not None and ref.status == "ok" else None
        out = {"config": asdict(self.config), "environment": self.environment, "videos": self.videos,
               "paths": [p.to_dict(ref) for p in self.paths], "agreement": self.agreement,
               "complete": self.complete, "reference": REFERENCE_DESCRIPTION, "profile": self.profile}
        if self.sanity is not None:
            out["sanity"] = self.sanity
        return out


def environment(device: str) -> dict[str, Any]:
    """Versions, threads, device and load: what the figures depend on."""
    import torch
    import transformers

    env: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                           "transformers": transformers.__version__, "cpu_count": os.cpu_count(),
                           "torch_threads": torch.get_num_threads(), "device": device,
                           "platform": platform.platform()}
    if hasattr(os, "getloadavg"):
        env["loadavg_start"] = list(os.getloadavg())
    if device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def run_bench(items: Sequence[VideoItem], config: BenchConfig, *, progress: Callable[[str], None] | None = None,
              on_path: Callable[[BenchReport], None] | None = None,
              sanity: Callable[[Evaluator], dict[str, Any]] | None = None) -> BenchReport:
    """Load the model once, warm up, then time every path of ``config.paths`` over ``items`` in turn.

    ``on_path``: called with the report so far (``complete`` False) after each path, so a run stopped
    part-way (a time limit on a borrowed GPU) keeps the paths it finished. ``sanity``: called last with an
    Evaluator over the same loaded judge (the ``aigve bench --sanity`` door passes ``aigve.sanity.run_sanity``);
    its answer is kept as the report's ``sanity`` (bench does not import the sanity room itself).
    """
    from aigve.backends.base import default_sampling
    from aigve.backends.macs import MacsBackend

    say = progress or log.info
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    generation = {"max_new_tokens": config.max_new_tokens, "force_new_tokens": config.force_new_tokens}
    backend = MacsBackend(config.model, device=config.device, dtype=config.dtype,
                          attn_implementation=config.attn_implementation, generation=generation,
                          profile=config.profile)
    profile = {**backend.profile.describe(), "source": backend.profile_source}
    ctx = _Context(config, backend, default_sampling(backend, config.sampling), list(items), say)
    env = environment(backend.device)
    _warm_file_cache(items)
    ctx.warm_up()
    results: list[PathResult] = []
    for name in config.paths:
        say(f"running {PATH_LABELS[name]} on {len(items)} video(s)")
        results.append(_RUNNERS[name](ctx))
        if on_path is not None and len(results) < len(config.paths):
            on_path(_report(config, env, items, results, complete=False, profile=profile))
    if hasattr(os, "getloadavg"):
        env["loadavg_end"] = list(os.getloadavg())
    report = _report(config, env, items, results, profile=profile)
    if sanity is not None:
        if on_path is not None:
            on_path(_report(config, env, items, results, complete=False, profile=profile))
        say(f"running the sanity checks on {len(items)} video(s)")
        report.sanity = sanity(Evaluator(backend, ctx.sampling, prefetch=config.prefetch))
    return report


def _report(config: BenchConfig, env: dict[str, Any], items: Sequence[VideoItem], results: list[PathResult],
            complete: bool = True, profile: dict[str, Any] | None = None) -> BenchReport:
    by_name = {r.name: r for r in results}
    generated = next((by_name[n] for n in ("default", "batched", "reference") if n in by_name
                      and by_name[n].status == "ok"), None)
    agreement = compare_paths(by_name.get("scores-only"), generated)
    return BenchReport(config, dict(env), [it.id for it in items], list(results), agreement, complete=complete,
                       profile=profile)


@dataclass
class _Context:
    config: BenchConfig
    backend: Any
    sampling: Any
    items: list[VideoItem]
    say: Callable[[str], None]
    reference: Any = None

    def reference_pipeline(self) -> Any:
        from aigve.bench.reference import ReferencePipeline

        if self.reference is None:
            self.reference = ReferencePipeline(self.config.model, self.backend.model, device=self.backend.device,
                                               max_new_tokens=self.config.max_new_tokens,
                                               force_new_tokens=self.config.force_new_tokens)
        return self.reference

    def warm_up(self) -> None:
        from aigve.evaluator import Evaluator

        warm = self.items[: self.config.warmup]
        if not warm:
            return
        list(Evaluator(self.backend, self.sampling, prefetch=0).evaluate_many(warm))
        from aigve.bench.reference import reference_unavailable_reason

        if "reference" in self.config.paths and reference_unavailable_reason() is None:
            for it in warm:
                self.reference_pipeline().run(it.video, it.prompt)


def _warm_file_cache(items: Sequence[VideoItem]) -> None:
    """Read every file once so no path pays for the first read from disk."""
    for it in items:
        try:
            with open(it.video, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except OSError:
            continue  # the paths report the failure themselves


def _run_reference(ctx: _Context) -> PathResult:
    from aigve.bench.reference import reference_unavailable_reason

    result = PathResult("reference", PATH_LABELS["reference"])
    reason = reference_unavailable_reason()
    if reason is not None:
        result.status, result.reason = "skipped", reason
        return result
    pipeline = ctx.reference_pipeline()
    visual = []
    with PeakMemory() as mem:
        start = time.perf_counter()
        for it in ctx.items:
            try:
                out = pipeline.run(it.video, it.prompt)
            except Exception as exc:  # noqa: BLE001 - a failing video is recorded, the bench goes on
                result.failed += 1
                result.per_video.append({"id": it.id, "error": f"{type(exc).__name__}: {exc}"})
                continue
            result.videos += 1
            for k in STAGES:
                result.stage_s[k] += out.timings.get(k, 0.0)
            result.generated_tokens += out.generated_tokens
            visual.append(out.visual_tokens)
            result.per_video.append({"id": it.id, "scores": out.scores, "text": out.text,
                                     "generated_tokens": out.generated_tokens,
                                     "visual_tokens": out.visual_tokens, "prompt_tokens": out.prompt_tokens,
                                     "parse_error": out.error})
        result.wall_s = time.perf_counter() - start
    _finish(result, mem, visual)
    return result


def _run_evaluator(ctx: _Context, name: str, evaluator: Any, batch_size: int) -> PathResult:
    result = PathResult(name, PATH_LABELS[name], batch_size=batch_size)
    visual = []
    with PeakMemory() as mem:
        start = time.perf_counter()
        records = list(evaluator.evaluate_many(ctx.items, batch_size=batch_size))
        result.wall_s = time.perf_counter() - start
    for r in records:
        if r.error is not None and r.error.get("stage") != "parse":
            result.failed += 1
            result.per_video.append({"id": r.id, "error": r.error})
            continue
        result.videos += 1
        for k in STAGES:
            result.stage_s[k] += r.timings.get(k, 0.0)
        tokens = int(r.extra.get("generated_tokens") or 0)
        result.generated_tokens += tokens
        visual.append(r.sampling.get("visual_tokens"))
        result.per_video.append({"id": r.id, "scores": r.scores, "text": r.raw_text, "expected_scores": r.expected_scores,
                                 "confidence": r.confidence, "generated_tokens": tokens,
                                 "visual_tokens": r.sampling.get("visual_tokens"),
                                 "prompt_tokens": r.extra.get("prompt_tokens"),
                                 "parse_error": (r.error or {}).get("message")})
    _finish(result, mem, visual)
    return result


def _finish(result: PathResult, mem: PeakMemory, visual: list) -> None:
    result.peak_rss_mib, result.peak_gpu_mib = mem.peak_rss_mib, mem.peak_gpu_mib
    visual = [v for v in visual if v is not None]
    result.visual_tokens = sum(visual) / len(visual) if visual else None
    if result.videos == 0:
        result.status, result.reason = "failed", "no video was scored; see per_video errors"


def _run_default(ctx: _Context) -> PathResult:
    from aigve.evaluator import Evaluator

    return _run_evaluator(ctx, "default", Evaluator(ctx.backend, ctx.sampling, prefetch=ctx.config.prefetch), 1)


def _run_batched(ctx: _Context) -> PathResult:
    from aigve.evaluator import Evaluator

    evaluator = Evaluator(ctx.backend, ctx.sampling, prefetch=ctx.config.prefetch)
    return _run_evaluator(ctx, "batched", evaluator, ctx.config.batch_size)


def _run_batched_processes(ctx: _Context) -> PathResult:
    with Evaluator(ctx.backend, ctx.sampling, prefetch=ctx.config.prefetch, workers="process") as evaluator:
        evaluator.start_workers()  # worker start-up is a one-off cost, not a per-video one: keep it out of the timing
        return _run_evaluator(ctx, "batched-processes", evaluator, ctx.config.batch_size)


def _run_scores_only(ctx: _Context) -> PathResult:
    from aigve.backends.scoreonly import ScoreOnlyBackend
    from aigve.evaluator import Evaluator

    backend = ScoreOnlyBackend.from_backend(ctx.backend, fill=ctx.config.score_fill)
    evaluator = Evaluator(backend, ctx.sampling, prefetch=ctx.config.prefetch)
    return _run_evaluator(ctx, "scores-only", evaluator, ctx.config.batch_size)


def _run_vllm(ctx: _Context) -> PathResult:
    from aigve.backends.vllm import vllm_unavailable_reason
    from aigve.evaluator import Evaluator

    reason = vllm_unavailable_reason()
    if reason is not None:
        return PathResult("vllm", PATH_LABELS["vllm"], status="skipped", reason=reason)
    from aigve.backends.vllm import VllmBackend

    options = {"gpu_memory_utilization": 0.45, **ctx.config.vllm_options}  # the transformers model shares the GPU
    backend = VllmBackend(ctx.config.model, generation=ctx.backend.generation, profile=ctx.backend.profile, **options)
    evaluator = Evaluator(backend, ctx.sampling, prefetch=ctx.config.prefetch)
    return _run_evaluator(ctx, "vllm", evaluator, max(len(ctx.items), 1))


_RUNNERS: dict[str, Callable[[_Context], PathResult]] = {
    "reference": _run_reference, "default": _run_default, "batched": _run_batched,
    "batched-processes": _run_batched_processes, "scores-only": _run_scores_only, "vllm": _run_vllm,
}


def score_agreement(expected: Sequence[float], generated: Sequence[float]) -> dict[str, Any]:
    """Agreement of paired scores: ``n``, mean absolute difference, Spearman rho (None when undefined),
    and the share of pairs where the rounded expected score equals the generated score."""
    import numpy as np
    from scipy.stats import spearmanr

    e, g = np.asarray(expected, dtype=float), np.asarray(generated, dtype=float)
    if len(e) != len(g):
        raise ValueError(f"need paired scores, got {len(e)} and {len(g)}")
    if len(e) == 0:
        return {"n": 0, "mean_abs_diff": None, "spearman": None, "exact_match": None}
    rho = None
    if len(e) > 1 and np.ptp(e) > 0 and np.ptp(g) > 0:
        rho = float(spearmanr(e, g).statistic)
    return {"n": int(len(e)), "mean_abs_diff": float(np.abs(e - g).mean()), "spearman": rho,
            "exact_match": float((np.floor(e + 0.5) == g).mean())}


def compare_paths(scores_only: PathResult | None, generated: PathResult | None) -> dict[str, Any]:
    """Score-only expected scores vs the generated scores of the same videos, over every (video, aspect) pair."""
    if scores_only is None or generated is None or scores_only.status != "ok":
        return {"n": 0, "note": "needs the scores-only path and a generating path"}
    gen = {v["id"]: v.get("scores") or {} for v in generated.per_video}
    e, g = [], []
    for v in scores_only.per_video:
        for key, value in (v.get("expected_scores") or {}).items():
            target = gen.get(v["id"], {}).get(key)
            if value is not None and target is not None:
                e.append(value)
                g.append(target)
    out = {**score_agreement(e, g), "scores_only": scores_only.name, "generated": generated.name}
    if not e:
        out["note"] = (f"no parseable generated scores on path {generated.name!r} "
                       f"(expected with random-weight models)")
    return out
