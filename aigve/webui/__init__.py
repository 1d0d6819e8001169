"""Web UI (Gradio) over aigve: Evaluate, Batch and Report tabs plus the ``/evaluate`` API endpoint.

``python app.py`` and ``aigve app`` both end in :func:`main`. Importing this package does not import
gradio; :mod:`aigve.webui.service` (limits, path safety, shared evaluator) never does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# Off unless the operator set it: must happen before any submodule imports gradio (this runs first).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from aigve.webui.safety import Limits, RequestRefused
from aigve.webui.service import ServiceConfig, WebService

__all__ = ["Limits", "RequestRefused", "ServiceConfig", "WebService", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the web UI; same options as ``aigve app`` (see ``aigve app --help``)."""
    from aigve.cli import main as cli_main

    return cli_main(["app", *(sys.argv[1:] if argv is None else argv)])
