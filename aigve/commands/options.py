"""Command-line options shared by subcommands that build an evaluator (score, bench, refine, app)."""

from __future__ import annotations

import argparse
import inspect
import sys
from typing import Any

from aigve.config import SAMPLING_STRATEGIES
from aigve.errors import ConfigError, ModelLoadError

DEFAULT_MODEL = "xiaoliux/AIGVE-MACS"

#: Backend options that do not decide what a run scores: how fast or where it runs, how it reaches a server, and
#: numerics-only choices (dtype, attention kernel, a merged LoRA: the same weights, scores equal up to rounding).
#: run.json records them as ``settings``; a resume may change them. ``api_key`` is recorded only as "<set>".
#: ``server_url`` is among them (each node may run its own server); what a server serves is checked when the
#: evaluator starts (:func:`aigve.runner.recording`).
RUNTIME_OPTIONS = frozenset({
    "dtype", "device", "attn_implementation", "merge_adapter", "local_files_only", "trust_remote_code",
    "server_url", "api_key", "concurrency", "max_retries", "retry_backoff_s", "timeout_s",
    "gpu_memory_utilization", "tensor_parallel_size", "pipeline_parallel_size", "max_num_seqs", "enforce_eager",
})
_SECRET_OPTIONS = frozenset({"api_key"})
#: Backends that load a checkpoint (hub id or folder) in this process (``vllm`` only without ``server_url``).
CHECKPOINT_BACKENDS = ("macs", "macs-scores", "vllm")


def add_backend_args(p: argparse.ArgumentParser, *, default_backend: str = "macs") -> None:
    from aigve.registry import BACKENDS  # names only: no backend module is imported

    g = p.add_argument_group("judge")
    g.add_argument("--backend", default=default_backend, metavar="NAME",
                   help=f"scoring backend, one of: {', '.join(BACKENDS.names())} (macs: the Qwen2.5-VL judge; "
                        f"macs-scores: macs reading scores only, as --scores-only; vllm: the judge served by vLLM; "
                        f"signals: pixel measurements, no weights; fake: tests); default: {default_backend}")
    g.add_argument("--model", default=None, help=f"macs: hub id or local checkpoint folder (default {DEFAULT_MODEL})")
    g.add_argument("--adapter", default=None, help="macs: LoRA adapter folder (peft) applied on top of --model")
    g.add_argument("--dtype", default=None, help="macs: auto, bfloat16, float16 or float32")
    g.add_argument("--device", default=None, help="macs: auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--attn", dest="attn_implementation", default=None, help="macs: sdpa, eager or flash_attention_2")
    g.add_argument("--max-new-tokens", type=int, default=None,
                   help="macs: generation cap (default: the judge profile's; 1500 for macs-card)")
    g.add_argument("--profile", default=None, metavar="NAME",
                   help="judge profile: how the judge is run (instruction, frames, size, spacing, decoding); "
                        "see `aigve profiles`. Default: the one recorded with --adapter/--model, else macs-card "
                        "(the released AIGVE-MACS usage)")
    g.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE",
                   help="any other backend option (repeatable); values parse as JSON when they can")


def add_sampling_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("frame sampling")
    g.add_argument("--fps", type=float, default=None, help="target frames per second of video (default 1)")
    g.add_argument("--min-frames", type=int, default=None)
    g.add_argument("--max-frames", type=int, default=None)
    g.add_argument("--min-pixels", type=int, default=None, help="per-frame area floor in pixels")
    g.add_argument("--max-pixels", type=int, default=None, help="per-frame area cap in pixels")
    g.add_argument("--max-visual-tokens", type=int, default=None, help="visual-token budget per video")
    g.add_argument("--sampling", dest="strategy", choices=SAMPLING_STRATEGIES, default=None,
                   help="uniform, or motion (denser frames where content changes most)")
    g.add_argument("--decode-workers", choices=("thread", "process"), default="thread",
                   help="decode upcoming videos in background threads (default) or worker processes")


def sampling_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Only the sampling fields the user set; backend defaults fill the rest."""
    names = ("fps", "min_frames", "max_frames", "min_pixels", "max_pixels", "max_visual_tokens", "strategy")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def parse_key_values(pairs: list[str], flag: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (JSON values when they parse)."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(flag, pair, "use KEY=VALUE")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Backend keyword options from the judge flags (only those the user set)."""
    opts = parse_key_values(args.backend_option, "--backend-option")
    for name in ("model", "adapter", "dtype", "device", "attn_implementation"):
        if getattr(args, name, None) is not None:
            opts[name] = getattr(args, name)
    if getattr(args, "max_new_tokens", None) is not None:
        opts.setdefault("generation", {})["max_new_tokens"] = args.max_new_tokens
    if getattr(args, "profile", None) is not None:
        from aigve.registry import BACKENDS, PROFILES

        PROFILES.get(args.profile)  # unknown names: "did you mean", before any model loads
        if _param(BACKENDS.get(args.backend), "profile") is None:
            raise ConfigError("profile", args.profile, f"the {args.backend} backend takes no judge profile; "
                                                       f"use a backend that runs a judge (macs, macs-scores)")
        opts["profile"] = args.profile
    return opts


def evaluator_from_args(args: argparse.Namespace, **extra: Any):
    """The evaluator the flags describe. Loading weights can take minutes with nothing else to show, so for
    :data:`CHECKPOINT_BACKENDS` a line on stderr says what is loading and another how long it took
    (``tqdm.write``: a progress bar already drawn, such as score's, is redrawn below them, not broken)."""
    import time

    from tqdm.auto import tqdm

    from aigve.evaluator import load_evaluator

    extra.setdefault("workers", getattr(args, "decode_workers", "thread"))
    options = backend_options(args)
    loud = args.backend in CHECKPOINT_BACKENDS and not (args.backend == "vllm" and options.get("server_url"))
    if loud:
        tqdm.write(f"loading {options.get('model') or 'the default model'} (backend {args.backend}) ...",
                   file=sys.stderr)
    start = time.perf_counter()
    evaluator = load_evaluator(args.backend, sampling=sampling_from_args(args), **options, **extra)
    if loud:
        tqdm.write(f"model loaded in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return evaluator


def check_sources(args: argparse.Namespace) -> None:
    """Pre-flight for :data:`CHECKPOINT_BACKENDS`: raise ModelLoadError now when the model or adapter cannot be
    found (a missing folder, a folder without its config, a hub id not cached while offline, an unreachable hub).

    Cheap: :func:`aigve.backends.hf_checkpoint.resolve_source` reads the local cache and at most opens one TCP
    connection; nothing is loaded. The backend resolves the same names again when it loads them.
    """
    options = backend_options(args)
    if args.backend not in CHECKPOINT_BACKENDS or (args.backend == "vllm" and options.get("server_url")):
        return
    from aigve.backends.hf_checkpoint import resolve_source
    from aigve.registry import BACKENDS

    local = options.get("local_files_only")
    resolve_source(options.get("model") or _default(BACKENDS.get(args.backend), "model") or DEFAULT_MODEL,
                   local_files_only=local)
    if options.get("adapter") is not None:
        resolve_source(options["adapter"], local_files_only=local, what="adapter", flag="--adapter",
                       required_file="adapter_config.json")
    if args.backend == "vllm":
        from aigve.backends.vllm import vllm_unavailable_reason

        reason = vllm_unavailable_reason()
        if reason is not None:
            raise ModelLoadError(f"vllm backend: {reason}; or pass --backend-option server_url=http://HOST:PORT "
                                 f"to use a running `vllm serve` instead")


def run_spec(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(spec, settings)`` of a scoring run, from the flags alone (no model is loaded).

    ``spec`` is what decides the scores, compared on ``--resume``: ``backend``; ``model`` and ``adapter`` (the
    backend's default model filled in, an existing folder as its absolute path); ``backend_options`` (the other
    ``--backend-option`` values, less :data:`RUNTIME_OPTIONS`); ``sampling`` (the sampling flags given; backend
    defaults follow from the model); ``generation`` (complete, defaults filled, for backends that generate);
    ``released_keys``; ``prompt_template`` (12 hex digits of sha1 over the system prompt and instruction
    template, or of the judge profile's sha256; None for a backend that never reads the prompt); ``profile`` and
    ``profile_sha256`` for backends run by a judge profile (their ``generation`` is the profile's). ``settings``: batch size, decode workers,
    dtype, device, attention and the other runtime options, recorded but free to change between resumes.
    """
    import hashlib

    from aigve.backends.base import uses_prompt
    from aigve.config import GenerationConfig
    from aigve.prompt import SYSTEM_PROMPT, build_instruction
    from aigve.registry import BACKENDS

    factory = BACKENDS.get(args.backend)
    options = backend_options(args)
    settings: dict[str, Any] = {"batch_size": getattr(args, "batch_size", None),
                                "decode_workers": getattr(args, "decode_workers", None)}
    for key in sorted(RUNTIME_OPTIONS & set(options)):
        value = options.pop(key)
        settings[key] = "<set>" if key in _SECRET_OPTIONS else value
    for key in ("dtype", "device", "attn_implementation"):
        settings.setdefault(key, None)
    # A vLLM client scores with whatever its server serves: --model is not used. The served model name (when
    # given) is in the spec; the name the server reports is compared when the evaluator starts.
    client = args.backend == "vllm" and bool(settings.get("server_url"))
    model = options.pop("model", _default(factory, "model"))
    if client:
        model = None
    adapter = options.pop("adapter", None)
    generation = options.pop("generation", None)
    if _param(factory, "generation") is not None and (generation is None or isinstance(generation, dict)) \
            and _param(factory, "profile") is None:
        generation = GenerationConfig.from_dict(generation).to_dict()
    released = options.pop("released_keys", _default(factory, "released_keys"))
    if released is not None:
        released = bool(released)  # as the backend reads it: 0/"false"-like values must not hash as released
    template = profile = None
    if _param(factory, "profile") is not None:
        profile = _spec_profile(options.pop("profile", None), model, adapter, released)
        released = profile.released_keys
        template = profile.content_sha256()[:12]
        user = generation if isinstance(generation, dict) else {}
        generation = {**profile.generation(), **(user or {})}
        if profile.from_checkpoint:
            generation["from_checkpoint"] = True  # decoding fields are read from the checkpoint when it loads
    elif uses_prompt(factory):
        text = SYSTEM_PROMPT + "\n" + build_instruction("{prompt}", released_keys=released is not False)
        template = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    spec = {"backend": args.backend, "model": _source_name(model), "adapter": _source_name(adapter),
            "backend_options": dict(sorted(options.items())), "sampling": sampling_from_args(args),
            "generation": generation, "released_keys": released, "prompt_template": template}
    if profile is not None:
        spec.update(profile=profile.name, profile_sha256=profile.content_sha256())
    return spec, settings


def _spec_profile(name: str | None, model: Any, adapter: Any, released: bool | None):
    """The judge profile a run will use, as the backend will choose it (named, else recorded in a local
    adapter/model folder, else macs-card); read from the flags and folders, no model is loaded."""
    from pathlib import Path

    from aigve.judges.profiles import resolve_profile, with_released_keys

    folder = lambda v: v if v is not None and Path(str(v)).expanduser().is_dir() else None  # noqa: E731
    profile, _ = resolve_profile(name, model=folder(model), adapter=folder(adapter))
    return with_released_keys(profile, released)


def _param(factory: Any, name: str) -> inspect.Parameter | None:
    """Keyword ``name`` of ``factory``, searching base classes (a subclass may pass it on in ``**kwargs``)."""
    for target in getattr(factory, "__mro__", (factory,)):
        try:
            param = inspect.signature(target.__init__ if isinstance(target, type) else target).parameters.get(name)
        except (TypeError, ValueError):
            continue
        if param is not None and param.kind is not param.VAR_KEYWORD:
            return param
    return None


def _default(factory: Any, name: str) -> Any:
    param = _param(factory, name)
    return None if param is None or param.default is param.empty else param.default


def _source_name(value: Any) -> str | None:
    """A model/adapter as the spec records it: an existing folder as its absolute path (so the same folder
    named from another working directory is the same run), anything else (a hub id) as given."""
    from pathlib import Path

    if value is None:
        return None
    path = Path(str(value)).expanduser()
    return str(path.resolve()) if path.exists() else str(value)
