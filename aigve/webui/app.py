"""The Gradio app: Evaluate, Batch and Report tabs over one :class:`~aigve.webui.service.WebService`.

API endpoints (``gradio_client``): ``/evaluate`` (video, prompt, backend, model) -> result record
(dict; gradio_client fills backend and model with their defaults, a plain HTTP call sends all four); ``/batch`` and ``/report`` mirror their tabs. All model work shares one queue slot pool
(``concurrency_id="model"``, size ``Limits.concurrency``), so parallel users wait instead of loading
or running the model side by side beyond what the operator allowed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import gradio as gr  # aigve.webui's __init__ has already turned gradio's analytics off

from aigve.aspects import ASPECTS
from aigve.webui.handlers import BATCH_HEADERS, SCORE_HEADERS, Handlers
from aigve.webui.safety import MAX_PROMPT_CHARS, PortInUse, check_exposure
from aigve.webui.service import SAMPLES_DIR, WebService

log = logging.getLogger(__name__)

TITLE = "AIGVE-MACS: nine-aspect evaluation of AI-generated video"
MODEL_POOL = "model"  # concurrency group shared by every event that runs the judge
# Old uploads, results and reports are deleted after a day (checked hourly): a server must not fill its disk.
CACHE_CLEANUP = (3600, 86400)
CSS = "#scores td:nth-child(2) {font-weight: 600; text-align: center}"


def build_app(service: WebService) -> gr.Blocks:
    """Lay out the three tabs and wire their events. Does not start a server."""
    h = Handlers(service)
    limits = service.limits
    aspects = ", ".join(a.label for a in ASPECTS)
    with gr.Blocks(title="AIGVE-MACS", analytics_enabled=False, delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(f"## {TITLE}\nScores ({aspects}) on 0-5, each with a comment. Videos up to "
                    f"{limits.max_upload_mb:g} MB and {limits.max_duration_s:g} s.")
        with gr.Row():
            backend = gr.Dropdown(service.backend_choices(), value=service.backend_choices()[0], label="Backend",
                                  elem_id="backend")
            model = gr.Dropdown(service.model_choices(), value=service.model_choices()[0], label="Model",
                                elem_id="model")
            profile = gr.Dropdown(service.profile_choices(), value="auto", label="Judge profile",
                                  info="auto: recorded with the model, else macs-card (the released usage)",
                                  elem_id="profile")
        with gr.Tabs():
            with gr.Tab("Evaluate", id="evaluate"):
                _evaluate_tab(h, service, backend, model, profile)
            with gr.Tab("Batch", id="batch"):
                folder_dd = _batch_tab(h, service, backend, model, profile)
            with gr.Tab("Report", id="report"):
                _report_tab(h, service, folder_dd)
            with gr.Tab("Leaderboard", id="leaderboard"):
                from aigve.webui.leaderboard_tab import leaderboard_tab

                leaderboard_tab(service)
            with gr.Tab("Sanity", id="sanity"):
                from aigve.webui.sanity_tab import sanity_tab

                sanity_tab(service, backend, model, MODEL_POOL)
    return demo


def _evaluate_tab(h: Handlers, service: WebService, backend: gr.Dropdown, model: gr.Dropdown,
                  profile: gr.Dropdown) -> None:
    with gr.Row():
        with gr.Column(scale=2):
            video = gr.Video(label="Video", sources=["upload"], include_audio=True, elem_id="video")
            samples = service.samples()
            sample = gr.Dropdown(list(samples), value=None, label="...or a bundled sample clip",
                                 visible=bool(samples), elem_id="sample")
            prompt = gr.Textbox(label="Prompt that generated the video", lines=2, max_length=MAX_PROMPT_CHARS,
                                elem_id="prompt")
            run = gr.Button("Evaluate", variant="primary", elem_id="evaluate-button")
        with gr.Column(scale=3):
            status = gr.Markdown(elem_id="status")
            table = gr.Dataframe(headers=SCORE_HEADERS, datatype=["str", "str", "str"], interactive=False,
                                 wrap=True, label="Scores and comments", elem_id="scores",
                                 column_widths=["18%", "9%", "73%"], max_height=1200)
    with gr.Row():
        chart = gr.Plot(label="Scores", elem_id="chart")
        gallery = gr.Gallery(label="Frames the judge saw (time · frame index)", columns=4, height="auto",
                             object_fit="contain", elem_id="frames")
    timings = gr.Markdown(elem_id="timings")
    with gr.Accordion("Result record (JSON)", open=False):
        record = gr.JSON(label="record", elem_id="record")
    sample.change(h.pick_sample, sample, [video, prompt], api_visibility="private")
    run.click(h.evaluate, [video, prompt, backend, model, profile], record, api_name="evaluate",
              concurrency_id=MODEL_POOL, show_progress_on=[table, status]).success(
        h.show_result, [record, video], [status, table, chart, gallery, timings], api_visibility="private")


def _batch_tab(h: Handlers, service: WebService, backend: gr.Dropdown, model: gr.Dropdown,
               profile: gr.Dropdown) -> gr.Dropdown:
    limits = service.limits
    gr.Markdown(f"Score up to {limits.max_batch_videos} videos: a **zip** of videos (with `manifest.csv` "
                "or `manifest.jsonl` inside — columns `video`, `prompt`, optional `id` — or a manifest "
                "uploaded beside it), or a **server folder** the operator allowed.")
    with gr.Row():
        zip_file = gr.File(label="Videos (.zip)", file_types=[".zip"], elem_id="batch-zip")
        manifest = gr.File(label="Manifest (.csv / .jsonl, optional)", file_types=[".csv", ".jsonl"],
                           elem_id="batch-manifest")
        folder = gr.Dropdown(service.batch_folders(), value=None, label="...or a server folder",
                             info=None if service.allowed_dirs else "none allowed (start with --allowed-dir)",
                             elem_id="batch-folder")
    run = gr.Button("Score batch", variant="primary", elem_id="batch-button")
    summary = gr.Markdown(elem_id="batch-summary")
    table = gr.Dataframe(headers=BATCH_HEADERS, interactive=False, label="Results", elem_id="batch-table")
    with gr.Row():
        jsonl = gr.File(label="results.jsonl", elem_id="batch-jsonl")
        csv = gr.File(label="results.csv", elem_id="batch-csv")
    run.click(h.batch, [zip_file, manifest, folder, backend, model, profile], [summary, table, jsonl, csv],
              api_name="batch", concurrency_id=MODEL_POOL)
    return folder


def _report_tab(h: Handlers, service: WebService, folder: gr.Dropdown) -> None:
    gr.Markdown("Agreement of a results file with human scores (SRCC, PLCC, KRCC, accuracies, bootstrap CIs), "
                "or the score distributions alone when no human file is given.")
    files = service.server_files()
    with gr.Row():
        results_up = gr.File(label="Results (results.jsonl / .csv)", file_types=[".jsonl", ".csv", ".json"],
                             elem_id="report-results")
        human_up = gr.File(label="Human scores (AIGVE-Bench .json / .jsonl / .csv, optional)",
                           file_types=[".json", ".jsonl", ".csv"], elem_id="report-human")
    with gr.Row():
        results_pick = gr.Dropdown(files, value=None, label="...or a results file on the server")
        human_pick = gr.Dropdown(files, value=None, label="...or a human-score file on the server")
        refresh = gr.Button("Refresh server lists", size="sm")
    with gr.Row():
        n_boot = gr.Slider(0, 2000, value=1000, step=100, label="Bootstrap resamples (0: no CIs)")
        embeddings = gr.Checkbox(value=False, label="Comment embedding similarity (slower)")
    run = gr.Button("Build report", variant="primary", elem_id="report-button")
    markdown = gr.Markdown(elem_id="report-markdown")
    plots = gr.Gallery(label="Plots", columns=2, height="auto", object_fit="contain", elem_id="report-plots")
    downloads = gr.File(label="report.html, report.md, metrics.json, metrics.csv", file_count="multiple")
    refresh.click(h.refresh_files, None, [results_pick, human_pick, folder], api_visibility="private")
    run.click(h.report, [results_up, human_up, results_pick, human_pick, n_boot, embeddings],
              [markdown, plots, downloads], api_name="report", concurrency_id=MODEL_POOL)


def launch(service: WebService, *, host: str = "127.0.0.1", port: int | None = None, share: bool = False,
           block: bool = True, quiet: bool = False,
           auth: Sequence[tuple[str, str]] | None = None) -> tuple[gr.Blocks, str]:
    """Build the app, queue it, and serve it; returns (app, local URL). ``block=False`` returns as soon as
    the server is up (then ``app.block_thread()`` waits for Ctrl-C). A taken ``port`` raises PortInUse.
    ``auth``: ``(user, password)`` pairs (:func:`~aigve.webui.safety.read_auth_file`); with them every page,
    upload and API call needs a login (gradio's own login form; API clients pass ``auth=(user, password)``).
    Serving beyond loopback or through ``share`` without ``auth`` raises ConfigError.

    Uploads over ``max_upload_mb`` are refused by gradio itself; messages of errors reach the browser
    (``show_error``) but tracebacks never do (handlers raise ``gr.Error`` with text only).
    """
    check_exposure(host, share, auth)
    demo = build_app(service)
    limits = service.limits
    # One slot pool for the judge; bound the waiting line so a flood gets "queue full", not memory growth.
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue_size)
    allowed = [str(SAMPLES_DIR)] if SAMPLES_DIR.is_dir() else []  # public sample clips only, never --allowed-dir
    try:
        _, url, _ = demo.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=not block,
                                show_error=True, max_file_size=limits.max_upload_bytes, allowed_paths=allowed,
                                quiet=quiet, ssr_mode=False, mcp_server=False, pwa=False, enable_monitoring=False,
                                css=CSS, footer_links=["api"], auth=list(auth) if auth else None,
                                auth_message="Log in with a user and password from the server's --auth-file.")
    except OSError as exc:
        # gradio says "Cannot find empty port in range: P-P ..." (and names its own env variable) for a taken port
        if port is not None and "Cannot find empty port" in str(exc):
            raise PortInUse(port) from None
        raise
    return demo, url
