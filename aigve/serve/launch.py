"""Build the judge as ``aigve score`` does (a :class:`~aigve.run.job.ScoreJob` and
:func:`~aigve.run.job.build_evaluator`) and serve it with uvicorn, optionally with the Gradio UI mounted."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aigve.errors import ConfigError
from aigve.serve.app import ServeSettings, create_app
from aigve.webui.safety import is_loopback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listen:
    """``host``/``port`` to bind; ``insecure``: allow a non-loopback host without an API key."""

    host: str = "127.0.0.1"
    port: int = 8000
    insecure: bool = False


def check_exposure(listen: Listen, api_key: str | None) -> None:
    """Refuse to listen beyond this machine with no API key, unless ``insecure`` says it is meant."""
    if api_key is None and not is_loopback(listen.host) and not listen.insecure:
        raise ConfigError("host", listen.host, "is reachable from other machines, so it needs an API key: pass "
                                               "`api_key_file=FILE`, or `insecure` if a proxy in front checks "
                                               "access, or `host=127.0.0.1`")


def build_judge(job) -> Any:
    """The evaluator of ``job`` (a ScoreJob), built the one way ``aigve score`` builds it."""
    from aigve.run.job import build_evaluator, check_sources

    check_sources(job.backend, job.options())
    return build_evaluator(job)


def build_server(judge: Any, settings: ServeSettings, listen: Listen, *, ui: Any = None):
    """A ``uvicorn.Server`` for the app around ``judge``; ``ui``: a Gradio Blocks mounted at ``/ui``.

    uvicorn's own SIGTERM/SIGINT handling is the graceful shutdown: it stops accepting, waits for the
    requests it accepted, then runs the app's lifespan end (the batcher drains its queue, then stops).
    """
    import uvicorn

    app = create_app(judge, settings)
    if ui is not None:
        import gradio as gr

        app = gr.mount_gradio_app(app, ui, path="/ui")
    config = uvicorn.Config(app, host=listen.host, port=listen.port, log_level="warning",
                            timeout_graceful_shutdown=int(settings.timeout_s) + 5, lifespan="on")
    return uvicorn.Server(config)
