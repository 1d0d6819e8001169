"""``aigve app``: serve the Gradio web UI (Evaluate, Batch, Report tabs and the /evaluate API)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from aigve.commands.options import add_backend_args, add_sampling_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="serve the web UI (Gradio) and its /evaluate API",
                       description="Serve the web UI on --host:--port (loopback by default). One judge instance "
                                   "is shared by every user through a queue; uploads, durations and server "
                                   "folders are limited by the options below.")
    add_backend_args(p)
    add_sampling_args(p)
    g = p.add_argument_group("server")
    g.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it, "
                        "which needs --auth-file)")
    g.add_argument("--auth-file", metavar="FILE",
                   help="users who may log in, one 'user:password' per line (# comments allowed; chmod 600 it); "
                        "required when --host is not a loopback address or with --share")
    g.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    g.add_argument("--allowed-dir", action="append", default=[], metavar="DIR",
                   help="server folder the Batch and Report tabs may read (repeatable; default: none)")
    g.add_argument("--max-upload-mb", type=float, default=200.0, help="largest upload in MB (default 200)")
    g.add_argument("--max-duration-s", type=float, default=600.0, help="longest video in seconds (default 600)")
    g.add_argument("--concurrency", type=int, default=1,
                   help="model calls running at once, across all users (default 1; raise only if memory allows)")
    g.add_argument("--queue-size", type=int, default=64,
                   help="requests that may wait for a model slot; more are refused with 'queue is full' "
                        "(default 64)")
    g.add_argument("--max-batch-videos", type=int, default=200, help="videos per batch request (default 200)")
    g.add_argument("--offer-backend", action="append", default=[], metavar="NAME",
                   help="another backend users may pick, e.g. signals (repeatable)")
    g.add_argument("--offer-model", action="append", default=[], metavar="MODEL",
                   help="another model users may pick for --backend (repeatable; only one is loaded at a time)")
    g.add_argument("--share", action="store_true",
                   help="also open a public gradio.live link (off by default; needs internet)")
    g.add_argument("--lazy", action="store_true", help="load the judge on the first request instead of at start")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    """The :class:`~aigve.webui.service.ServiceConfig` described by the parsed flags."""
    from aigve.commands.options import backend_options, sampling_from_args
    from aigve.evaluator import check_backend_options
    from aigve.webui import Limits, ServiceConfig

    options = backend_options(args)
    check_backend_options(args.backend, **options)  # a bad --backend-option stops here, not in the first request
    model, adapter = options.pop("model", None), options.pop("adapter", None)
    limits = Limits(max_upload_mb=args.max_upload_mb, max_duration_s=args.max_duration_s,
                    concurrency=args.concurrency, queue_size=args.queue_size,
                    max_batch_videos=args.max_batch_videos)
    return ServiceConfig(backend=args.backend, model=model, adapter=adapter, backend_options=options,
                         sampling=sampling_from_args(args), backends=tuple(args.offer_backend),
                         models=tuple(args.offer_model), allowed_dirs=tuple(args.allowed_dir), limits=limits)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported anywhere
    from aigve.webui import WebService
    from aigve.webui.safety import check_exposure, check_port, read_auth_file

    auth = read_auth_file(args.auth_file) if args.auth_file else None
    check_exposure(args.host, args.share, auth)  # before a model load that may take minutes
    service = WebService(config_from_args(args))
    demo = None
    on_main = threading.current_thread() is threading.main_thread()  # signal handlers can only be set there
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt) if on_main else None
    try:
        check_port(args.host, args.port)
        if not args.lazy:
            print(f"aigve app: loading backend {args.backend} ...", flush=True)
            service.evaluator()
        from aigve.webui.app import launch

        demo, url = launch(service, host=args.host, port=args.port, share=args.share, block=False, auth=auth)
        login = f", log in as one of the {len(auth)} user(s) of {args.auth_file}" if auth else ""
        try:
            print(f"aigve app: serving on {url} (Ctrl-C to stop{login})", flush=True)  # only now is it really up
            demo.block_thread()  # returns on Ctrl-C or SIGTERM (gradio catches the interrupt while it waits)
        except KeyboardInterrupt:  # one that came just before gradio's wait began: the same normal stop
            pass
        print("aigve app: stopped", file=sys.stderr, flush=True)
        return 0
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)
        if demo is not None:
            demo.close()
        service.close()  # deletes the server's scratch folder (uploads, batch results)


def _sigterm_as_interrupt(signum, frame) -> None:
    """SIGTERM (``kill``, systemd, docker stop) ends the server as Ctrl-C does: through gradio's own shutdown
    and our ``finally``, so the scratch folder is removed instead of left behind by an abrupt exit."""
    raise KeyboardInterrupt
