"""Gradio event handlers: thin wrappers that call :class:`~aigve.webui.service.WebService` and shape its
answers for components. Every handler turns failures into ``gr.Error`` with a plain message; the
traceback of an unexpected failure goes to the server log only."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import gradio as gr
from matplotlib.figure import Figure

from aigve.aspects import ASPECTS, SCORE_MAX
from aigve.backends.base import uses_prompt
from aigve.errors import AigveError
from aigve.webui.safety import RequestRefused, display_name
from aigve.webui.service import SAMPLES_DIR, WebService, missing_prompt_warning

log = logging.getLogger(__name__)

SCORE_HEADERS = ["Aspect", "Score", "Comment"]
BATCH_PREVIEW_ROWS = 200


def user_errors(fn: Callable) -> Callable:
    """Show refusals and aigve errors as their message; unexpected errors as a short line (details logged)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except RequestRefused as exc:
            raise gr.Error(str(exc), title="Request refused", print_exception=False) from None
        except AigveError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - a user must never see a traceback
            log.exception("%s failed", fn.__name__)
            raise gr.Error(f"internal error ({type(exc).__name__}); the server log has the details",
                           print_exception=False) from None

    return wrapper


def score_rows(record: dict[str, Any]) -> list[list[Any]]:
    """One [label, score, comment] row per aspect, in the canonical order (missing -> "n/a", "")."""
    scores, comments = record.get("scores") or {}, record.get("comments") or {}
    return [[a.label, "n/a" if scores.get(a.key) is None else scores[a.key], comments.get(a.key) or ""]
            for a in ASPECTS]


def score_figure(record: dict[str, Any]) -> Figure:
    """Horizontal bars of the nine scores on the 0-5 scale (a pyplot-free Figure: safe across threads)."""
    scores = record.get("scores") or {}
    fig = Figure(figsize=(6.0, 3.6), dpi=100)
    ax = fig.add_subplot()
    labels = [a.label for a in ASPECTS][::-1]
    values = [scores.get(a.key) for a in ASPECTS][::-1]
    bars = ax.barh(labels, [v or 0 for v in values], color=["#4c78a8" if v is not None else "#cccccc" for v in values])
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_width() + 0.08, bar.get_y() + bar.get_height() / 2, "n/a" if v is None else str(v),
                va="center", fontsize=9)
    ax.set_xlim(0, SCORE_MAX + 0.6)
    ax.set_xticks(range(SCORE_MAX + 1))
    ax.set_xlabel("score (0-5)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def timing_text(record: dict[str, Any]) -> str:
    """Timings (seconds) and what was sampled, as one Markdown paragraph."""
    t, s = record.get("timings") or {}, record.get("sampling") or {}
    parts = [f"{name.removesuffix('_s')} {t[name]:.3f} s" for name in ("decode_s", "preprocess_s", "model_s", "parse_s")
             if isinstance(t.get(name), (int, float))]
    total = t.get("total_s")
    line = "**Timings:** " + " · ".join(parts) + (f" · **total {total:.3f} s**" if isinstance(total, (int, float)) else "")
    if s:
        line += (f"  \n**Sampled:** {s.get('num_frames')} frames at {s.get('sampled_fps')} fps "
                 f"({s.get('frame_width')}x{s.get('frame_height')} px, {s.get('strategy')}, "
                 f"decoder {s.get('decoder')}) of {s.get('duration_s')} s")
    return line


def status_text(record: dict[str, Any]) -> str:
    """Who judged, plus a loud warning when the scores are placeholders (fake backend, tiny test model), and
    the missing-prompt warning when the video was judged without a prompt by a backend that reads one."""
    from aigve.core.provenance import banner, of_backend

    backend = record.get("backend") or {}
    who = backend.get("name") or "?"
    if backend.get("model"):
        who += f" · {backend['model']}"
    text = f"Scored **{record.get('video')}** with {who}."
    if not str(record.get("prompt") or "").strip() and uses_prompt(str(backend.get("name") or "")):
        text += "  \n" + missing_prompt_warning([str(record.get("video"))])
    line = banner(of_backend(backend))
    if line:
        text = f"⚠️ **{line}**  \n" + text
    return text


class Handlers:
    """Event handlers bound to one :class:`WebService`."""

    def __init__(self, service: WebService):
        self.service = service

    # ------------------------------------------------------------------ Evaluate tab
    @user_errors
    def evaluate(self, video: str | None, prompt: str, backend: str, model: str, profile: str | None = None,
                 progress: gr.Progress = gr.Progress()) -> dict[str, Any]:
        """Score one video against its prompt; returns the result record (scores, comments, sampling, timings)."""
        return self.service.evaluate(video, prompt, backend, model, profile=profile,
                                     progress=lambda fraction, step: progress(fraction, desc=step))

    @user_errors
    def show_result(self, record: dict[str, Any] | None, video: str | None, progress: gr.Progress = gr.Progress()
                    ) -> tuple[str, list[list[Any]], Figure, list[tuple[Any, str]], str]:
        """Status line, score table, bar chart, frame gallery and timings for a record."""
        if not record:
            raise RequestRefused("nothing to show yet; press Evaluate")
        progress(0.9, desc="drawing the sampled frames")
        try:
            gallery = self.service.thumbnails(video, record) if video else []
        except AigveError as exc:  # thumbnails are a nicety: the scores are already there
            log.warning("thumbnails failed: %s", exc)
            gallery = []
        return status_text(record), score_rows(record), score_figure(record), gallery, timing_text(record)

    def pick_sample(self, name: str | None) -> tuple[Any, Any]:
        """A bundled sample's path and prompt (or no change when nothing is picked)."""
        samples = self.service.samples()
        if not name or name not in samples:
            return gr.update(), gr.update()
        return str(SAMPLES_DIR / name), samples[name]

    # ------------------------------------------------------------------ Batch tab
    @user_errors
    def batch(self, zip_file: str | None, manifest_file: str | None, folder: str | None, backend: str, model: str,
              profile: str | None = None, progress: gr.Progress = gr.Progress(track_tqdm=True)
              ) -> tuple[str, list[list[Any]], str, str]:
        """Score a zip of videos (with a manifest inside or uploaded beside it) or an allowed server folder."""
        progress(0.0, desc="checking the inputs")
        if manifest_file and not zip_file and not folder:
            raise RequestRefused("a manifest alone is not enough: upload the videos as a zip or pick a server folder")
        batch = self.service.prepare_batch(zip_path=zip_file, manifest_path=manifest_file, folder=folder or None)
        out = self.service.run_batch(batch, backend, model, progress=True, profile=profile)
        from aigve.results import record_status

        rows = [[r.get("id"), record_status(r),  # "partial" too: an answer that lost aspects says so
                 *[(r.get("scores") or {}).get(a.key) for a in ASPECTS], (r.get("error") or {}).get("message") or ""]
                for r in out.records[:BATCH_PREVIEW_ROWS]]
        summary = out.summary + (f" (table shows the first {BATCH_PREVIEW_ROWS})" if len(out.records) > BATCH_PREVIEW_ROWS else "")
        return summary, rows, str(out.jsonl), str(out.csv)

    # ------------------------------------------------------------------ Report tab
    @user_errors
    def report(self, results_upload: str | None, human_upload: str | None, results_pick: str | None,
               human_pick: str | None, n_boot: float, embeddings: bool, progress: gr.Progress = gr.Progress()
               ) -> tuple[str, list[tuple[str, str]], list[str]]:
        """Agreement report of a results file with a human-score file (or score distributions alone)."""
        progress(0.1, desc="reading the files")
        results = results_upload or (self.service.readable_file(results_pick) if results_pick else None)
        human = human_upload or (self.service.readable_file(human_pick) if human_pick else None)
        if not results:
            raise RequestRefused("choose a results file (upload one or pick one from the server)")
        names = {str(p): display_name(p) for p in (results_upload, human_upload) if p}
        progress(0.3, desc="computing agreement and plots")
        out = self.service.report(str(results), str(human) if human else None, n_boot=int(n_boot),
                                  embeddings=bool(embeddings), names=names)
        return out.markdown, [(str(p), c) for p, c in out.plots], [str(p) for p in out.files]

    def refresh_files(self) -> tuple[Any, Any, Any]:
        """Re-list server-side files (new batch runs appear) and folders."""
        files = self.service.server_files()
        return (gr.update(choices=files), gr.update(choices=files),
                gr.update(choices=self.service.batch_folders()))


BATCH_HEADERS = ["id", "status", *[a.key for a in ASPECTS], "error"]
