"""``aigve app``: serve the Gradio web UI (Evaluate, Batch, Report tabs and the /evaluate API)."""

from __future__ import annotations

import argparse
import os

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
                   help="interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)")
    g.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    g.add_argument("--allowed-dir", action="append", default=[], metavar="DIR",
                   help="server folder the Batch and Report tabs may read (repeatable; default: none)")
    g.add_argument("--max-upload-mb", type=float, default=200.0, help="largest upload in MB (default 200)")
    g.add_argument("--max-duration-s", type=float, default=600.0, help="longest video in seconds (default 600)")
    g.add_argument("--concurrency", type=int, default=1,
                   help="model calls running at once, across all users (default 1; raise only if memory allows)")
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
                    concurrency=args.concurrency, max_batch_videos=args.max_batch_videos)
    return ServiceConfig(backend=args.backend, model=model, adapter=adapter, backend_options=options,
                         sampling=sampling_from_args(args), backends=tuple(args.offer_backend),
                         models=tuple(args.offer_model), allowed_dirs=tuple(args.allowed_dir), limits=limits)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported anywhere
    from aigve.webui import WebService
    from aigve.webui.safety import check_port

    service = WebService(config_from_args(args))
    check_port(args.host, args.port)  # before a model load that may take minutes
    if not args.lazy:
        print(f"aigve app: loading backend {args.backend} ...", flush=True)
        service.evaluator()
    from aigve.webui.app import launch

    demo, url = launch(service, host=args.host, port=args.port, share=args.share, block=False)
    print(f"aigve app: serving on {url} (Ctrl-C to stop)", flush=True)  # only now is the server really up
    demo.block_thread()
    return 0
