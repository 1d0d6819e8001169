"""``aigve serve``: the judge behind an HTTP API (POST /v1/score, /v1/pairwise; GET /v1/health, /v1/info,
/metrics; OpenAPI at /docs and /openapi.json)."""

from __future__ import annotations

import argparse
import sys

from aigve.commands.options import add_backend_args, add_sampling_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the judge over HTTP (FastAPI): score, pairwise, health, info, metrics",
                       description="Load the judge once (as `aigve score` does) and serve it on --host:--port "
                                   "(127.0.0.1 by default). Requests are micro-batched onto one judge thread, "
                                   "bounded by --queue-size (429 when full) and --timeout (504). OpenAPI: /docs.")
    add_backend_args(p)
    add_sampling_args(p)
    g = p.add_argument_group("server")
    g.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1; any other address needs --api-key-file "
                        "or --insecure)")
    g.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    g.add_argument("--root", default=None, metavar="DIR",
                   help="server folder whose videos requests may name by path (default: uploads only)")
    g.add_argument("--api-key-file", default=None, metavar="FILE",
                   help="file holding the API key (first line); every /v1 request except /v1/health must send "
                        "'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
    g.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without an API key (a proxy in front checks access)")
    g.add_argument("--max-batch", type=int, default=4, help="videos per judge call (default 4)")
    g.add_argument("--max-wait-ms", type=float, default=10.0,
                   help="how long a batch waits for more videos before the judge runs (default 10 ms)")
    g.add_argument("--queue-size", type=int, default=64,
                   help="videos that may wait for the judge; more are refused with 429 (default 64)")
    g.add_argument("--timeout", type=float, default=300.0, help="seconds per request before 504 (default 300)")
    g.add_argument("--max-videos", type=int, default=64, help="videos per request (default 64)")
    g.add_argument("--max-upload-mb", type=float, default=200.0, help="largest upload in MB (default 200)")
    g.add_argument("--max-duration-s", type=float, default=600.0, help="longest video in seconds (default 600)")
    g.add_argument("--idempotency-entries", type=int, default=1024,
                   help="results kept for Idempotency-Key replays (default 1024)")
    g.add_argument("--ui", action="store_true", help="also mount the Gradio web UI at /ui on the same server")
    # the `aigve app` settings --ui needs that serve does not take as flags
    p.set_defaults(func=run, concurrency=1, max_batch_videos=200, offer_backend=[], offer_model=[], allowed_dir=[])


def read_api_key(path: str | None) -> str | None:
    from aigve.errors import ConfigError

    if path is None:
        return None
    try:
        key = open(path, encoding="utf-8").readline().strip()
    except OSError as exc:
        raise ConfigError("--api-key-file", path, f"cannot be read ({exc.strerror})") from None
    if len(key) < 16:
        raise ConfigError("--api-key-file", path, "holds no key of 16 characters or more on its first line; "
                                                   "write one, e.g. `python -c 'import secrets; "
                                                   "print(secrets.token_urlsafe(32))' > FILE`")
    return key


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aigve.core import provenance
    from aigve.run.flags import backend_options, sampling_from_args
    from aigve.run.job import ScoreJob
    from aigve.serve.app import ServeSettings
    from aigve.serve.batcher import BatchSettings
    from aigve.serve.launch import Listen, build_judge, build_server, check_exposure
    from aigve.webui.safety import Limits, check_port

    api_key = read_api_key(args.api_key_file)
    listen = Listen(host=args.host, port=args.port, insecure=args.insecure)
    check_exposure(listen, api_key)  # before a model load that may take minutes
    root = Path(args.root).resolve() if args.root else None
    if root is not None and not root.is_dir():
        from aigve.errors import ConfigError

        raise ConfigError("--root", args.root, "is not a folder on this server")
    check_port(args.host, args.port)
    options = backend_options(args)
    generation = dict(options.pop("generation", None) or {})
    profile = options.pop("profile", None)
    job = ScoreJob(inputs=str(root or "."), backend=args.backend, backend_options=options, profile=profile,
                   sampling=sampling_from_args(args), generation=generation, batch_size=args.max_batch,
                   decode_workers=args.decode_workers, progress=False)
    settings = ServeSettings(root=root, api_key=api_key,
                             limits=Limits(max_upload_mb=args.max_upload_mb, max_duration_s=args.max_duration_s,
                                           queue_size=args.queue_size),
                             batch=BatchSettings(max_batch=args.max_batch, max_wait_s=args.max_wait_ms / 1000,
                                                 queue_size=args.queue_size),
                             timeout_s=args.timeout, max_videos=args.max_videos,
                             idempotency_entries=args.idempotency_entries)
    print(f"aigve serve: loading backend {args.backend} ...", file=sys.stderr, flush=True)
    judge = build_judge(job)
    note = provenance.banner(provenance.of_backend(judge.describe()))
    if note:
        print(note, file=sys.stderr)
    ui = _ui(args) if args.ui else None
    server = build_server(judge, settings, listen, ui=ui)
    print(f"aigve serve: http://{args.host}:{args.port} (API docs at /docs{', web UI at /ui' if ui else ''})",
          file=sys.stderr, flush=True)
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        # uvicorn answers SIGTERM gracefully (stop accepting, finish accepted requests, drain the batcher), then
        # re-raises it to the handler that was there before: make that one a no-op so the judge is closed and
        # the command exits 0 instead of dying by the signal.
        signal.signal(signal.SIGTERM, lambda sig, frame: None)
    try:
        server.run()
    finally:
        judge.close()
    print("aigve serve: stopped; every accepted request was answered", file=sys.stderr)
    return 0


def _ui(args: argparse.Namespace):
    """The Gradio Blocks of `aigve app` for the same backend flags (it loads its judge on first use)."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from aigve.commands.app import config_from_args
    from aigve.webui import WebService
    from aigve.webui.app import build_app

    args.allowed_dir = [args.root] if args.root else []  # the UI's Batch tab reads the same folder
    demo = build_app(WebService(config_from_args(args)))
    demo.queue(default_concurrency_limit=1, max_size=args.queue_size)
    return demo
