"""The web UI's Leaderboard tab: upload results files, choose the generator column, see the ranking,
head-to-head tests, plots and (optionally) the examples where the two best generators differ most.

Self-contained: :func:`leaderboard_tab` lays the tab out and wires its one event; :func:`build` does the
work through :func:`aigve.report.leaderboard.build_leaderboard`. Example frames are decoded only for
videos inside the operator's allowed folders (a results file may name any path on the server).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import gradio as gr

from aigve.errors import AigveError
from aigve.webui.safety import RequestRefused, display_name
from aigve.webui.service import WebService

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)\n?")
MAX_FILES = 16


def build(service: WebService, files: Sequence[str] | None, by: str, one_per_file: bool, n_boot: float,
          examples: float) -> tuple[str, list[tuple[str, str]], list[str]]:
    """(markdown, gallery of (png, caption), downloads) for the uploaded results files."""
    from aigve.report.leaderboard import build_leaderboard

    files = [str(f) for f in (files or [])]
    if not files:
        raise RequestRefused("upload at least one results file (results.jsonl or .csv)")
    if len(files) > MAX_FILES:
        raise RequestRefused(f"at most {MAX_FILES} results files at a time")
    shown = {f: display_name(f) for f in files}
    names = [Path(shown[f]).stem for f in files]
    if one_per_file and len(set(names)) < len(names):
        raise RequestRefused("two uploads have the same name: rename them (the file name names the generator)")
    specs = [f"{n}={f}" for n, f in zip(names, files, strict=True)] if one_per_file else files
    out = service.work_dir / "leaderboards" / f"lb-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    try:
        lb = build_leaderboard(specs, out, by=(by or "generator").strip(), n_boot=int(n_boot),
                               examples=int(examples), frames_under=list(service.allowed_dirs))
    except AigveError as exc:
        message = str(exc)
        for path in sorted(shown, key=len, reverse=True):
            message = message.replace(path, shown[path])
        raise RequestRefused(f"cannot build the leaderboard: {message}") from None
    markdown = lb.files["markdown"].read_text(encoding="utf-8")
    for path in sorted(shown, key=len, reverse=True):  # server temp folders never reach the page
        markdown = markdown.replace(path, shown[path])
    markdown = _IMAGE.sub("", markdown)  # images are shown in the gallery; relative links would break
    plots = [(str(out / p), caption) for caption, p in lb.data.get("plots", {}).items()]
    for n, e in enumerate((lb.data.get("examples") or {}).get("items", []), 1):
        if e.get("image"):
            plots.append((str(out / e["image"]), f"example {n}: {e['a']['id']} vs {e['b']['id']}"))
    downloads = [str(lb.files[k]) for k in ("html", "markdown", "json", "csv")]
    return markdown, plots, downloads


def leaderboard_tab(service: WebService) -> None:
    """Lay out the tab (call inside ``gr.Tab``); API name ``/leaderboard``."""
    gr.Markdown("Rank generators from results files: per aspect a mean with a prompt-clustered bootstrap CI, a "
                "rank interval, and head-to-head win rates with a paired sign-flip test (Holm-corrected).")
    with gr.Row():
        files = gr.File(label="Results files (results.jsonl / .csv)", file_types=[".jsonl", ".csv"],
                        file_count="multiple", elem_id="lb-files")
        with gr.Column():
            by = gr.Textbox(value="generator", label="Generator column (--by)", elem_id="lb-by")
            one_per_file = gr.Checkbox(value=False, label="One generator per file (named by the file)")
    with gr.Row():
        n_boot = gr.Slider(0, 2000, value=1000, step=100, label="Bootstrap resamples (0: no CIs)")
        examples = gr.Slider(0, 10, value=0, step=1, label="Examples where the top two differ most")
    run = gr.Button("Build leaderboard", variant="primary", elem_id="lb-button")
    markdown = gr.Markdown(elem_id="lb-markdown")
    plots = gr.Gallery(label="Plots", columns=2, height="auto", object_fit="contain", elem_id="lb-plots")
    downloads = gr.File(label="leaderboard.html, .md, .json, .csv", file_count="multiple")

    def handler(f, b, o, n, k):
        try:
            return build(service, f, b, o, n, k)
        except RequestRefused as exc:
            raise gr.Error(str(exc), title="Request refused", print_exception=False) from None

    run.click(handler, [files, by, one_per_file, n_boot, examples], [markdown, plots, downloads],
              api_name="leaderboard")
