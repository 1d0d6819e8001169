"""Web UI (Gradio) over aigve: Evaluate, Batch and Report tabs plus the ``/evaluate`` API endpoint.

``python app.py`` and ``aigve app`` both run :func:`aigve.commands.app.run` (the doors; this room never imports them). Importing this package does not import
gradio; :mod:`aigve.webui.service` (limits, path safety, shared evaluator) never does.
"""

from __future__ import annotations

import os

# Off unless the operator set it: must happen before any submodule imports gradio (this runs first).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from aigve.webui.safety import Limits, RequestRefused
from aigve.webui.service import ServiceConfig, WebService

__all__ = ["Limits", "RequestRefused", "ServiceConfig", "WebService"]
