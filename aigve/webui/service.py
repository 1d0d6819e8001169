"""What the web UI does, without the UI: one shared evaluator, request checks, single and batch scoring.

No gradio here; :mod:`aigve.webui.app` turns these methods into tabs and API endpoints. Every refusal
is a :class:`~aigve.webui.safety.RequestRefused` whose message is fit to show a user.

One heavy model at a time: evaluators are cached by (backend, model); loading a second weight-bearing
backend evicts the first (pixel-measuring backends hold no weights and stay). Calls into an evaluator are
bounded by the gradio queue's concurrency limit, so parallel users wait instead of running out of memory.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aigve.aspects import ASPECTS
from aigve.backends.base import uses_prompt
from aigve.errors import AigveError
from aigve.evaluator import Evaluator, VideoItem
from aigve.webui.safety import (
    Limits,
    RequestRefused,
    check_prompt,
    check_video_file,
    display_name,
    existing_dirs,
    extract_zip,
    resolve_inside,
    scrub,
)

if TYPE_CHECKING:
    from aigve.run.job import ScoreJob

log = logging.getLogger(__name__)

#: Model choice meaning "the backend's own default" (or the model given at launch).
DEFAULT_MODEL = "(default)"
#: Backends that hold no weights: cheap to keep loaded beside the judge.
LIGHT_BACKENDS = frozenset({"fake", "signals"})
#: Longest side of a frame thumbnail in the gallery (pixels).
THUMB_SIDE = 224
#: Where the bundled sample clips live in a source checkout (absent from an installed wheel).
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "data" / "samples"


@dataclass
class ServiceConfig:
    """Operator's launch choices. ``backends``/``models``: extra choices offered in the UI besides the
    launch backend/model (only these can be picked, so users cannot make the server load arbitrary
    paths or hub ids). ``allowed_dirs``: server folders the Batch and Report tabs may read.
    ``backend_options``/``sampling``: passed to :func:`aigve.evaluator.load_evaluator`."""

    backend: str = "macs"
    model: str | None = None
    adapter: str | None = None
    backend_options: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)
    backends: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    allowed_dirs: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    work_dir: str | None = None


@dataclass
class BatchInput:
    """A checked batch: ``items`` to score, ``refused`` (id, reason) pairs left out, ``scratch`` to delete.

    ``names`` maps each id to the video's name as the user gave it (a manifest's ``video`` value, a zip
    member's path, or the path inside the allowed folder): results carry it instead of a server path.
    """

    items: list[VideoItem]
    refused: list[tuple[VideoItem, str]] = field(default_factory=list)
    scratch: Path | None = None
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchOutput:
    """Result of a batch: the summary line and the paths of results.jsonl / results.csv."""

    summary: str
    jsonl: Path
    csv: Path
    records: list[dict[str, Any]]


@dataclass
class ReportOutput:
    """A built report: its Markdown (image links removed), (PNG path, caption) plots, downloadable files."""

    markdown: str
    plots: list[tuple[Path, str]]
    files: list[Path]
    metrics: dict[str, Any]


#: Aspects judged against the prompt (named in the missing-prompt warning).
PROMPT_ASPECTS = ", ".join(a.label.lower() for a in ASPECTS if a.needs_prompt)

_IMAGE_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)\n?")
_PLOTS_HEADING = re.compile(r"^## Plots\n+(?:!\[[^\]]*\]\([^)]*\)\n+)*", re.MULTILINE)
#: What the Report tab shows under the report's Plots heading, whose image links it removes.
PLOTS_MOVED = "## Plots\n\nShown in the Plots gallery below the report.\n\n"


class WebService:
    """Shared state of one server: config, evaluator cache, scratch folder."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.limits = config.limits
        self.allowed_dirs = existing_dirs(config.allowed_dirs)
        # A scratch folder of our own is a TemporaryDirectory: close() removes it, and so does interpreter exit
        # if close() never ran (aigve app turns SIGTERM into a normal exit so that this happens then too).
        self._scratch = None if config.work_dir else tempfile.TemporaryDirectory(prefix="aigve-webui-",
                                                                                  ignore_cleanup_errors=True)
        self.work_dir = Path(config.work_dir or self._scratch.name).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._evaluators: dict[tuple[str, str | None], Evaluator] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ choices
    def backend_choices(self) -> list[str]:
        return list(dict.fromkeys([self.config.backend, *self.config.backends]))

    def profile_choices(self) -> list[str]:
        """Judge profiles offered in the UI (those the scoring run reads); ``auto`` = the one recorded with the
        model/adapter, else macs-card."""
        from aigve.judges.profiles import get_profile, nine_aspect_answer
        from aigve.registry import PROFILES

        return ["auto", *(n for n in PROFILES.names() if nine_aspect_answer(get_profile(n)))]

    def model_choices(self) -> list[str]:
        return list(dict.fromkeys([self.config.model or DEFAULT_MODEL, *self.config.models]))

    def samples(self) -> dict[str, str]:
        """Bundled sample clips ``{file name: prompt}`` from data/samples/manifest.csv ({} when absent)."""
        manifest = SAMPLES_DIR / "manifest.csv"
        if not manifest.is_file():
            return {}
        from aigve.runner import read_manifest

        return {Path(it.video).name: it.prompt for it in read_manifest(manifest) if Path(it.video).is_file()}

    # ------------------------------------------------------------------ evaluator cache
    def evaluator(self, backend: str | None = None, model: str | None = None, profile: str | None = None) -> Evaluator:
        """The shared evaluator for a (backend, model[, judge profile]) choice, loading it on first use."""
        backend = backend or self.config.backend
        if backend not in self.backend_choices():
            raise RequestRefused(f"backend {backend!r} is not offered here; choose one of {', '.join(self.backend_choices())}")
        if model in (None, "", DEFAULT_MODEL, self.config.model):
            model = None
        elif model not in self.model_choices():
            raise RequestRefused(f"model {model!r} is not offered here; choose one of {', '.join(self.model_choices())}")
        profile = None if profile in (None, "", "auto") else profile
        if profile is not None and profile not in self.profile_choices():
            raise RequestRefused(f"judge profile {profile!r} is unknown; choose one of {', '.join(self.profile_choices())}")
        key = (backend, model) if profile is None else (backend, model, profile)
        with self._lock:  # two first requests must not load the weights twice
            if key not in self._evaluators:
                if backend not in LIGHT_BACKENDS:
                    self._evict_heavy()
                self._evaluators[key] = self._load(backend, model, profile)
            return self._evaluators[key]

    def _load(self, backend: str, model: str | None, profile: str | None = None) -> Evaluator:
        from aigve.evaluator import load_evaluator

        options = self._options(backend, model, profile)
        log.info("loading backend %s (model %s)", backend, options.get("model", "default"))
        start = time.perf_counter()
        evaluator = load_evaluator(backend, sampling=dict(self.config.sampling), **options)
        log.info("backend %s ready in %.1f s", backend, time.perf_counter() - start)
        return evaluator

    def _options(self, backend: str, model: str | None, profile: str | None = None) -> dict[str, Any]:
        """The backend's keyword options for a (backend, model[, profile]) choice: what :meth:`_load` builds
        the judge with, and what a batch's run spec records."""
        from aigve.registry import BACKENDS

        if backend == self.config.backend:  # launch options belong to the launch backend only
            options = {**self.config.backend_options, "model": model or self.config.model, "adapter": self.config.adapter}
        else:
            options = {"model": model}
        options = {k: v for k, v in options.items() if v is not None}
        params = inspect.signature(BACKENDS.get(backend)).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        if "model" in options and not takes_any and "model" not in params:
            raise RequestRefused(f"backend {backend!r} takes no model; choose {DEFAULT_MODEL}")
        if profile is not None and "profile" in params:  # a backend without a judge (signals, fake) ignores it
            options["profile"] = profile
        return options

    def batch_job(self, out: Path, backend: str | None = None, model: str | None = None,
                  profile: str | None = None) -> ScoreJob:
        """The :class:`~aigve.run.job.ScoreJob` a Batch-tab run is: the judge exactly as :meth:`evaluator` builds
        it (launch options, chosen model and profile, the launch's sampling), scoring into ``out``. Its spec is
        recorded in ``out/run.json`` as ``aigve score`` records it. ``inputs`` names ``out``: the uploaded
        items are checked one by one (:meth:`check_batch`) and their scratch copies deleted after scoring."""
        from aigve.run.job import ScoreJob

        backend = backend or self.config.backend
        model = None if model in (None, "", DEFAULT_MODEL, self.config.model) else model
        profile = None if profile in (None, "", "auto") else profile
        options = self._options(backend, model, profile)
        chosen = options.pop("profile", None)
        return ScoreJob(inputs=str(out), backend=backend, backend_options=options, profile=chosen,
                        sampling=dict(self.config.sampling), out=out, progress=False)

    def _evict_heavy(self) -> None:
        for key in [k for k in self._evaluators if k[0] not in LIGHT_BACKENDS]:
            log.info("unloading backend %s (model %s) to make room", *key)
            del self._evaluators[key]
        gc.collect()
        torch = sys.modules.get("torch")  # free cached GPU memory only if torch is already in use
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ one video
    def evaluate(self, video: str | os.PathLike, prompt: str | None, backend: str | None = None,
                 model: str | None = None, *, name: str | None = None, profile: str | None = None,
                 progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
        """Check and score one uploaded video; return its result record (``video`` = the file's name).

        Raises RequestRefused for a bad input and when the video could not be scored. ``progress(fraction,
        step)`` is called before each step (check, load, score).
        """
        step = progress or (lambda fraction, text: None)
        if not video:
            raise RequestRefused("no video given; upload a clip or pick a sample")
        shown = name or display_name(video)
        step(0.05, "checking the video")
        text = check_prompt(prompt)
        check_video_file(video, self.limits, name=shown)
        step(0.2, f"loading the {backend or self.config.backend} backend")
        evaluator = self.evaluator(backend, model, profile)
        step(0.4, "sampling frames and scoring")
        result = evaluator.evaluate(video, text, id=Path(shown).stem)
        record = result.to_record()
        record["video"] = shown
        if not result.ok:
            err = result.error or {}
            raise RequestRefused(f"{shown}: could not be scored ({err.get('stage')} step): "
                                 f"{scrub(str(err.get('message')), video)}")
        return record

    def thumbnails(self, video: str | os.PathLike, record: dict[str, Any], side: int = THUMB_SIDE
                   ) -> list[tuple[np.ndarray, str]]:
        """The frames the judge saw (``record["sampling"]`` indices), as (RGB image, caption) pairs.

        Images are (H, W, 3) uint8 with the longer side ``side`` pixels; captions give time and frame index.
        """
        from aigve.media import SamplingPlan
        from aigve.video import probe, read_frames

        sampling = record.get("sampling") or {}
        indices = [int(i) for i in sampling.get("frame_indices") or []]
        times = [float(t) for t in sampling.get("timestamps") or []]
        if not indices or len(times) != len(indices):
            return []
        info = probe(video)
        scale = side / max(info.width, info.height)
        height, width = max(2, round(info.height * scale / 2) * 2), max(2, round(info.width * scale / 2) * 2)
        plan = SamplingPlan(indices=tuple(indices), timestamps=tuple(times), frame_height=height, frame_width=width,
                            sampled_fps=float(sampling.get("sampled_fps") or 1.0),
                            source_fps=float(sampling.get("source_fps") or info.fps or 24.0),
                            fps_assumed=bool(sampling.get("fps_assumed")), strategy=str(sampling.get("strategy") or ""),
                            visual_tokens=0)
        frames = read_frames(video, plan, info)
        return [(frame, f"{t:.2f} s · frame {i}") for frame, t, i in zip(frames, times, indices, strict=True)]

    # ------------------------------------------------------------------ batches
    def batch_folders(self) -> list[str]:
        """Allowed folders and their direct sub-folders, as choices for the Batch tab."""
        out: list[str] = []
        for root in self.allowed_dirs:
            out.append(str(root))
            out.extend(str(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith("."))
        return out

    def prepare_batch(self, *, zip_path: str | None = None, manifest_path: str | None = None,
                      folder: str | None = None) -> BatchInput:
        """Check a batch: a zip (optionally with a separate manifest) or an allowed server folder.

        Every video must resolve inside the zip's extraction folder or the chosen folder; a manifest row
        pointing elsewhere refuses the batch. Unreadable, non-video or over-long videos are left out
        with a reason (and recorded as failed in the results).
        """
        if bool(zip_path) == bool(folder):
            raise RequestRefused("give either a zip of videos or a server folder (not both, not neither)")
        scratch = None
        if zip_path:
            scratch = self.work_dir / f"upload-{uuid.uuid4().hex[:12]}"
            extract_zip(zip_path, scratch, self.limits, name=display_name(zip_path))
            root = _single_top_folder(scratch)
            names_from = scratch.resolve()  # a zip member's name is its path inside the zip
        else:
            if not self.allowed_dirs:
                raise RequestRefused("this server allows no folders; start it with --allowed-dir to use one")
            root = resolve_inside(folder, self.allowed_dirs, what="folder")
            if not root.is_dir():
                raise RequestRefused(f"folder {folder!r} is not a folder")
            names_from = next(d for d in self.allowed_dirs if root.is_relative_to(d))
        try:
            items = _items(root, manifest_path)
            batch = self._check_items(items, root, names_from=names_from, zipped=scratch is not None)
        except BaseException:
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
            raise
        batch.scratch = scratch
        return batch

    def _check_items(self, items: list[VideoItem], root: Path, *, names_from: Path, zipped: bool) -> BatchInput:
        """Refuse a batch with a row pointing outside ``root``; leave out (with a reason) what cannot be scored.

        Each video is named as the user knows it: zip uploads by the manifest's ``video`` value (the path
        relative to ``root``) or, without a manifest, by the member's path in the zip (``names_from``);
        server folders by the path inside the allowed folder ``names_from``.
        """
        if len(items) > self.limits.max_batch_videos:
            raise RequestRefused(f"the batch lists {len(items)} videos; this server takes at most "
                                 f"{self.limits.max_batch_videos} per batch; split it")
        ok, refused, names = [], [], {}
        for it in items:
            raw = Path(it.video)
            rel = raw.relative_to(root) if raw.is_absolute() and raw.is_relative_to(root) else raw
            where = f"row {it.row}" if it.row else it.id
            if (raw.is_absolute() and not raw.is_relative_to(root)) or ".." in rel.parts:
                raise RequestRefused(f"manifest {where}: video {rel.as_posix()!r} points outside the batch folder")
            from_manifest = zipped and it.row is not None
            names[it.id] = name = (rel if from_manifest else (root / rel).relative_to(names_from)).as_posix()
            # A zip of one folder is read from inside that folder, but a manifest beside it may name members
            # by their full path in the zip (folder/clip.mp4): accept both.
            found = [p for p in dict.fromkeys([root / rel, names_from / rel]) if os.path.lexists(p)] if zipped \
                else [root / rel] if os.path.lexists(root / rel) else []
            if not found:
                refused.append((it, f"{name}: not in the uploaded zip" if zipped
                                else f"{name}: no such file in the chosen folder"))
                continue
            try:
                path = resolve_inside(found[0], [names_from if zipped else root], what="video", shown=repr(name))
                check_video_file(path, self.limits, name=name, check_size=False)
            except RequestRefused as exc:
                refused.append((it, str(exc)))
                continue
            ok.append(dataclasses.replace(it, video=str(path)))
        if not ok:
            reasons = "; ".join(r for _, r in refused[:3])
            raise RequestRefused(f"no video in the batch can be scored: {reasons}")
        return BatchInput(items=ok, refused=refused, names=names)

    def run_batch(self, batch: BatchInput, backend: str | None = None, model: str | None = None,
                  *, progress: bool = True, profile: str | None = None) -> BatchOutput:
        """Score a checked batch into a fresh run folder; refused inputs become error records."""
        import json

        from aigve.results import (
            EvaluationResult,
            ResultWriter,
            iter_records,
            latest_by_id,
            write_csv,
            write_text_atomic,
        )
        from aigve.run.batch import run_batch
        from aigve.run.folder import CSV_NAME, RESULTS_NAME

        out = self.work_dir / "runs" / f"batch-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        try:
            evaluator = self.evaluator(backend, model, profile)
            # a backend that never reads the prompt (e.g. signals) misses nothing
            unprompted = [batch.names.get(it.id, it.id) for it in batch.items
                          if not it.prompt.strip()] if uses_prompt(evaluator.backend) else []
            spec, settings = self.batch_job(out, backend, model, profile).spec()
            settings["engine"] = {"name": "local", "via": "web UI batch"}
            summary = run_batch(evaluator, batch.items, out, progress=progress, spec=spec.to_dict(), settings=settings)
        finally:
            if batch.scratch:
                shutil.rmtree(batch.scratch, ignore_errors=True)
        jsonl = out / RESULTS_NAME
        if batch.refused:
            with ResultWriter(jsonl, fsync=False) as writer:
                for it, reason in batch.refused:
                    writer.write(EvaluationResult.failed(it.id, it.video, it.prompt, RequestRefused(reason), stage="input"))
        records = [_relabel(r, batch.names) for r in latest_by_id(iter_records(jsonl)).values()]
        # the downloads name no server path
        write_text_atomic(jsonl, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        write_csv(records, out / CSV_NAME)
        line = batch_summary(batch, summary.scored, summary.failed, summary.wall_s)
        if unprompted:
            how = ("an empty prompt in the manifest" if any(it.row is not None for it in batch.items)
                   else "no manifest.csv / manifest.jsonl with a prompt column, no <name>.txt beside them")
            line += "  \n" + missing_prompt_warning(unprompted, how)
        return BatchOutput(summary=line, jsonl=jsonl, csv=out / CSV_NAME, records=records)

    # ------------------------------------------------------------------ reports
    def report(self, results: str, human: str | None = None, *, n_boot: int = 1000, embeddings: bool = False,
               names: dict[str, str] | None = None) -> ReportOutput:
        """Run :func:`aigve.report.build_report` on one results file (and a human-score file, if given).

        ``names`` maps server paths to the names shown in the report and in messages; other files are shown
        by their base name (uploads keep their own names), never by a server folder.
        """
        from aigve.report import build_report

        shown = shown_names([results, human], names or {})
        out = self.work_dir / "reports" / f"report-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        system = Path(shown[results]).stem or "results"
        try:
            report = build_report([(system, results)], human or None, out, n_boot=n_boot, embeddings=embeddings,
                                  title=f"aigve report: {system}", path_labels=shown)
        except AigveError as exc:
            message = str(exc)
            for path in sorted(shown, key=len, reverse=True):  # a path that extends another goes first
                message = message.replace(path, shown[path])
            raise RequestRefused(f"cannot build the report: {message}") from None
        markdown = report.files["markdown"].read_text(encoding="utf-8")
        # plots are shown in a gallery (relative links would break): say so under their heading, drop the links
        markdown = _IMAGE_LINK.sub("", _PLOTS_HEADING.sub(PLOTS_MOVED, markdown))
        plots = [(p, caption) for caption, p in report.files.items() if Path(p).suffix == ".png"]
        downloads = [report.files[k] for k in ("html", "markdown", "json", "csv") if k in report.files]
        return ReportOutput(markdown=markdown, plots=plots, files=downloads, metrics=report.metrics)

    # ------------------------------------------------------------------ server-side files
    def server_files(self, suffixes: tuple[str, ...] = (".jsonl", ".csv", ".json"), limit: int = 500) -> list[str]:
        """Result/human-score files offered in the Report tab: this server's batch runs, then allowed folders."""
        found: list[str] = []
        runs = self.work_dir / "runs"
        for base in ([runs] if runs.is_dir() else []) + list(self.allowed_dirs):
            for p in sorted(base.rglob("*")):
                if p.suffix.lower() in suffixes and p.is_file() and not any(s.startswith(".") for s in p.parts):
                    found.append(str(p))
                    if len(found) >= limit:
                        return found
        return found

    def readable_file(self, path: str) -> Path:
        """A server-side file the user picked: it must lie in an allowed folder or this server's runs."""
        return resolve_inside(path, [*self.allowed_dirs, self.work_dir / "runs"], what="file")

    def close(self) -> None:
        """Drop loaded models and delete the scratch folder this service created (a ``work_dir`` the operator
        gave is kept). Call it once the server has stopped."""
        with self._lock:
            self._evaluators.clear()
        if self._scratch is not None:
            self._scratch.cleanup()


def shown_names(paths: list[str | None], names: dict[str, str]) -> dict[str, str]:
    """``{path: name shown to the user}`` for the given paths (None skipped): ``names[path]`` if given, else
    the base name. Gradio keeps an upload under its own name in a temporary folder (/tmp/gradio/<hash>/x.jsonl),
    so the base name is what the user uploaded, and the server's folders are never shown."""
    return {p: names.get(p) or display_name(p) for p in paths if p}


def missing_prompt_warning(videos: list[str], how: str | None = None) -> str:
    """The CLI's missing-prompt warning, for the web UI: ``videos`` are the names scored without a prompt
    (one entry: a single upload) and ``how`` says why they have none (batches)."""
    if len(videos) == 1 and how is None:
        return (f"⚠️ **No prompt given**: prompt-dependent aspects ({PROMPT_ASPECTS}) were judged without one; "
                "enter the prompt that generated the video for a full evaluation.")
    return (f"⚠️ **{len(videos)} video(s) have no prompt** ({how}); prompt-dependent aspects ({PROMPT_ASPECTS}) "
            f"were judged without one, e.g. {videos[0]}.")


def batch_summary(batch: BatchInput, scored: int, failed: int, wall_s: float) -> str:
    """``5 rows: 2 scored, 0 failed, 3 refused before scoring (1.2 s)``: the parts add up to the listed total."""
    listed = [*batch.items, *(it for it, _ in batch.refused)]
    noun = "rows" if any(it.row is not None for it in listed) else "videos"
    line = f"{len(listed)} {noun}: {scored} scored, {failed} failed"
    if batch.refused:
        line += f", {len(batch.refused)} refused before scoring"
    return line + f" ({wall_s:.1f} s)"


def _relabel(record: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``record`` with its ``video`` (a server path) replaced by the name the user gave, in messages too."""
    name = names.get(str(record.get("id")))
    path = record.get("video")
    if name is None or not path:
        return record
    error = record.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        error = {**error, "message": error["message"].replace(str(path), name)}
    return {**record, "video": name, "error": error}


def _single_top_folder(folder: Path) -> Path:
    """A zip made by zipping a folder holds just that folder: use it as the batch root."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else folder


def _items(root: Path, manifest_path: str | None) -> list[VideoItem]:
    """Items of a batch folder; an uploaded manifest's relative paths are read against ``root``."""
    from aigve.runner import collect_items, read_manifest

    try:
        if not manifest_path:
            return collect_items(root)
        if Path(manifest_path).suffix.lower() not in (".csv", ".jsonl"):
            raise RequestRefused(f"{display_name(manifest_path)}: a manifest must be .csv or .jsonl")
        base = Path(manifest_path).parent
        items = read_manifest(manifest_path)
        return [dataclasses.replace(it, video=str(root / Path(it.video).relative_to(base)))
                if Path(it.video).is_relative_to(base) else it for it in items]
    except RequestRefused:
        raise
    except AigveError as exc:
        message = scrub(scrub(str(exc), manifest_path or ""), root)
        raise RequestRefused(f"cannot read the batch: {message}") from None
