"""The Sanity tab: run ``aigve sanity`` on an allowed server folder with the chosen judge (self-contained: one
function that lays out the tab, one handler)."""

from __future__ import annotations

import uuid
from pathlib import Path

import gradio as gr

from aigve.webui.safety import RequestRefused
from aigve.webui.service import WebService

#: Clips per sanity run from the UI: each costs 1 + checks scorings.
MAX_SANITY_CLIPS = 8


def sanity_handler(service: WebService, folder: str | None, checks: list[str] | None, backend: str | None,
                   model: str | None) -> tuple[str, list[str]]:
    """(Markdown report, [sanity.html, sanity.md, metrics.json]) for the first clips of an allowed folder."""
    from aigve.errors import AigveError
    from aigve.sanity.run import run_sanity

    if not folder:
        raise gr.Error("pick a server folder (the operator allows them with --allowed-dir)", print_exception=False)
    if not checks:
        raise gr.Error("pick at least one check", print_exception=False)
    try:
        batch = service.prepare_batch(folder=folder)
        evaluator = service.evaluator(backend, model)
        out = service.work_dir / f"sanity-{uuid.uuid4().hex[:8]}"
        result = run_sanity(batch.items[:MAX_SANITY_CLIPS], evaluator, checks=checks, out=out)
    except (RequestRefused, AigveError) as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    text = Path(result.files["markdown"]).read_text(encoding="utf-8")
    return text, [result.files["html"], result.files["markdown"], result.files["metrics"]]


def sanity_tab(service: WebService, backend: gr.Dropdown, model: gr.Dropdown, pool: str) -> None:
    from aigve.sanity.checks import resolve_checks

    names = [c.name for c in resolve_checks(None)]
    gr.Markdown(f"Does the judge react to swapped prompts, frozen, reversed, degraded and resampled videos? Runs on "
                f"the first {MAX_SANITY_CLIPS} clips of a server folder (each costs 1 + checks scorings).")
    with gr.Row():
        folder = gr.Dropdown(service.batch_folders(), value=None, label="Server folder", elem_id="sanity-folder")
        checks = gr.CheckboxGroup(names, value=names, label="Checks", elem_id="sanity-checks")
    run = gr.Button("Run sanity checks", variant="primary", elem_id="sanity-button")
    report = gr.Markdown(elem_id="sanity-report")
    files = gr.File(label="sanity.html, sanity.md, metrics.json", file_count="multiple")
    run.click(lambda f, c, b, m: sanity_handler(service, f, c, b, m), [folder, checks, backend, model],
              [report, files], api_name="sanity", concurrency_id=pool)
