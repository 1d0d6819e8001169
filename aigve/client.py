"""A small Python client for ``aigve serve`` (httpx; no torch, no model).

>>> from aigve.client import Client                                 # doctest: +SKIP
>>> with Client("http://127.0.0.1:8000", api_key=None) as c:         # doctest: +SKIP
...     c.score(["clip.mp4"], ["a dog on a beach"])["results"][0]["scores"]

Errors: a refused request raises :class:`ServiceError` with the HTTP status and the server's one-line message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aigve.errors import AigveError


class ServiceError(AigveError):
    """The service refused a request: ``status`` (401, 403, 409, 413, 415, 422, 429, 504, ...), ``message``
    and ``retry_after`` (seconds, for 429)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message, self.retry_after = status, message, retry_after


class Client:
    """``base_url``: the server; ``api_key``: sent as a bearer token; ``timeout``: seconds per call."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 timeout: float = 600.0):
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/v1/health")

    def info(self) -> dict[str, Any]:
        """The judge (backend, model, profile, provenance real|fake|tiny), limits and versions."""
        return self._call("GET", "/v1/info")

    def score(self, videos: Sequence[str | os.PathLike], prompts: Sequence[str] | str = (), *,
              server_paths: Sequence[str] = (), idempotency_key: str | None = None) -> dict[str, Any]:
        """Score local ``videos`` (uploaded) and ``server_paths`` (inside the server's --root), in that order
        (server paths first). ``prompts``: one for all, or one per video. Returns ``{"results": [record per
        video], "judge": {...}}``; each record has ``scores``, ``comments``, ``sampling``, ``provenance``."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        return self._post("/v1/score", {"prompts": prompts, "paths": list(server_paths)}, videos, idempotency_key)

    def pairwise(self, a: str | os.PathLike, b: str | os.PathLike, prompt: str, *, server_paths: bool = False,
                 tie_margin: float = 0.0, idempotency_key: str | None = None) -> dict[str, Any]:
        """Which of ``a`` and ``b`` is better for ``prompt``: ``{"preferred": {aspect: "A"|"B"|"same"}, "a",
        "b", "judge"}``. ``server_paths``: ``a`` and ``b`` name files inside the server's --root."""
        data = {"prompt": prompt, "tie_margin": str(tie_margin),
                "paths": [os.fspath(a), os.fspath(b)] if server_paths else []}
        return self._post("/v1/pairwise", data, [] if server_paths else [a, b], idempotency_key)

    def _post(self, path: str, data: Mapping[str, Any], videos: Sequence[str | os.PathLike],
              key: str | None) -> dict[str, Any]:
        handles = [open(v, "rb") for v in videos]
        try:
            files = [("files", (Path(v).name, h, "application/octet-stream")) for v, h in zip(videos, handles, strict=True)]
            headers = {"Idempotency-Key": key} if key else None
            return self._call("POST", path, data=dict(data), files=files or None, headers=headers)
        finally:
            for h in handles:
                h.close()

    def _call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **kw)
        if response.status_code >= 400:
            try:
                message = str(response.json().get("detail"))
            except ValueError:
                message = response.text[:500]
            retry = response.headers.get("retry-after")
            raise ServiceError(response.status_code, message, float(retry) if retry else None)
        return response.json()
