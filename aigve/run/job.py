"""A scoring run as one typed, frozen, validated object: :class:`ScoreJob`.

Built three ways, all equal for the same settings: from the ``aigve score`` command line
(:meth:`ScoreJob.from_args`, the only reader of that argparse Namespace), from a YAML/JSON file
(:meth:`ScoreJob.from_file`: ``aigve score --config job.yaml``, or the ``run.json`` of an earlier run to replay
it), or from keyword arguments (``ScoreJob(...)``/:meth:`ScoreJob.create`, for the Python API and the web UI).
Every setting is checked on construction (:mod:`aigve.core.validate`); errors name the *setting*, and only
:meth:`from_args` maps them to flag names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from aigve.core import validate as v
from aigve.errors import ConfigError, InputError, ModelLoadError
from aigve.run.spec import RunSpec

DECODE_WORKERS = ("thread", "process")
ENGINES = ("local", "ray")
SHARD_METHODS = ("hash", "round-robin")
#: Sampling fields a job may set (the rest follow from the backend's defaults) and their checks.
SAMPLING_FIELDS = {"fps": v.positive, "min_frames": v.positive_int, "max_frames": v.positive_int,
                   "min_pixels": v.positive_int, "max_pixels": v.positive_int, "max_visual_tokens": v.positive_int,
                   "strategy": None}
#: Job settings -> the ``aigve score`` flag that sets them (for CLI error messages only).
FLAGS = {"inputs": "INPUT", "prompt": "--prompt", "backend": "--backend", "profile": "--profile",
         "batch_size": "--batch-size", "limit": "--limit", "decode_workers": "--decode-workers", "out": "--out",
         "resume": "--resume", "overwrite": "--overwrite", "shard": "--shard", "shard_method": "--shard-method",
         "backend_options": "--backend-option", "engine": "--engine", "address": "--address",
         "ray_actors": "--ray-actors", "ray_gpus_per_actor": "--ray-gpus-per-actor", "ray_num_cpus": "--ray-num-cpus", "max_new_tokens": "--max-new-tokens", "strategy": "--sampling",
         **{name: "--" + name.replace("_", "-") for name in SAMPLING_FIELDS if name != "strategy"}}
#: Keys of a job file (and of ``ScoreJob.create``); run.json's own keys are read by :meth:`ScoreJob.from_run_info`.
FILE_KEYS = ("inputs", "prompt", "backend", "backend_options", "profile", "sampling", "generation", "batch_size",
             "limit", "decode_workers", "out", "resume", "overwrite", "shard", "shard_method", "merge", "progress",
             "engine", "address", "ray_actors", "ray_gpus_per_actor", "ray_num_cpus")


def _frozen(mapping: Mapping[str, Any] | None, name: str) -> Mapping[str, Any]:
    if mapping is None:
        return MappingProxyType({})
    if not isinstance(mapping, Mapping) or not all(isinstance(k, str) and k for k in mapping):
        raise ConfigError(name, mapping, "must be a mapping of option names to values")
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ScoreJob:
    """Everything one ``aigve score`` run needs.

    ``inputs``: a video file, a folder or a manifest; ``prompt``: for a single video (or a folder's default).
    ``backend`` and ``backend_options`` (model, adapter, dtype, device, ... as the backend takes them; passed to
    it as keyword options). ``profile``: a judge profile name, passed to the backend as option ``profile``.
    ``sampling``: the :class:`~aigve.config.SamplingConfig` fields set by the user (backend defaults fill the
    rest, so only these are recorded). ``generation``: :class:`~aigve.config.GenerationConfig` fields set.
    ``batch_size``: videos per model call; ``limit``: score only the first N inputs; ``decode_workers``: thread
    or process. ``out``: the run folder; ``resume``/``overwrite``: continue it / start it afresh. ``shard``:
    ``"I/N"``, or None/``"auto"`` (from RANK/WORLD_SIZE when set, else not sharded); ``shard_method``; ``merge``:
    merge shards at the end.
    """

    inputs: str
    prompt: str | None = None
    backend: str = "macs"
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    profile: str | None = None
    sampling: Mapping[str, Any] = field(default_factory=dict)
    generation: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    limit: int | None = None
    decode_workers: str = "thread"
    out: Path = Path("runs/score")
    resume: bool = False
    overwrite: bool = False
    shard: str | None = None
    shard_method: str = "hash"
    merge: bool = True
    progress: bool = True
    engine: str = "local"
    address: str | None = None
    ray_actors: int = 1
    ray_gpus_per_actor: float | None = None
    ray_num_cpus: int | None = None

    def __post_init__(self) -> None:
        from aigve.config import GenerationConfig
        from aigve.registry import BACKENDS, PROFILES

        s = object.__setattr__
        s(self, "inputs", str(v.path("inputs", self.inputs)))
        s(self, "prompt", v.optional(v.text, "prompt", self.prompt, allow_empty=True))
        s(self, "backend", v.text("backend", self.backend))
        if self.backend not in BACKENDS:  # names only: building a job imports no backend module
            from aigve.errors import UnknownNameError

            raise UnknownNameError("backend", self.backend, BACKENDS.names())
        s(self, "profile", v.optional(v.text, "profile", self.profile))
        if self.profile is not None and self.profile in PROFILES:  # a pairwise judge cannot score single videos
            from aigve.judges.profiles import get_profile, require_one_video

            require_one_video(get_profile(self.profile), "a scoring run")
        s(self, "backend_options", _frozen(self.backend_options, "backend_options"))
        sampling = dict(_frozen(self.sampling, "sampling"))
        for key, value in sampling.items():
            if key not in SAMPLING_FIELDS:
                v.choice("sampling", key, SAMPLING_FIELDS)
            check = SAMPLING_FIELDS[key]
            sampling[key] = check(key, value) if check else v.choice(key, value, _strategies())
        s(self, "sampling", MappingProxyType(sampling))
        s(self, "generation", _frozen(self.generation, "generation"))
        GenerationConfig.from_dict(dict(self.generation))  # validates every field
        s(self, "batch_size", v.positive_int("batch_size", self.batch_size, high=100_000))
        s(self, "limit", v.optional(v.positive_int, "limit", self.limit))
        s(self, "decode_workers", v.choice("decode_workers", self.decode_workers, DECODE_WORKERS))
        s(self, "out", v.path("out", self.out))
        for name in ("resume", "overwrite", "merge", "progress"):
            s(self, name, v.boolean(name, getattr(self, name)))
        if self.overwrite and self.resume:
            raise ConfigError("overwrite", True, "choose either overwrite or resume")
        s(self, "shard_method", v.choice("shard_method", self.shard_method, SHARD_METHODS))
        s(self, "engine", v.choice("engine", self.engine, ENGINES))
        self.ray_options()  # validates address and the actor pool's numbers
        if self.shard is not None and str(self.shard).lower() != "auto":
            from aigve.sharding import parse_shard

            parse_shard(str(self.shard))
        if self.overwrite and self.shard_rank() is not None:
            # Ranks start at different times: one rank's clean-up would delete what another rank of the same
            # launch is already writing.
            raise ConfigError("overwrite", True, "a sharded run cannot clear its folder safely from each rank; "
                                                 "delete the output folder before the launch, or use a new one")

    # ------------------------------------------------------------------------------------ construction

    @classmethod
    def create(cls, inputs: str | os.PathLike, **settings: Any) -> ScoreJob:
        """``ScoreJob(inputs, **settings)`` refusing unknown settings with "did you mean" (the web UI and the
        Python API pass user-chosen names)."""
        for key in settings:
            if key not in FILE_KEYS:
                v.choice("setting", key, FILE_KEYS)
        return cls(inputs=os.fspath(inputs), **settings)

    @classmethod
    def from_args(cls, args: Any, base: ScoreJob | None = None) -> ScoreJob:
        """The job an ``aigve score`` command line asks for. With ``base`` (a ``--config`` file's job) the
        flags given on the command line override it; flags left at their defaults do not. Errors name flags."""
        from aigve.run.flags import backend_options, sampling_from_args

        given = _given(args)
        backend = args.backend
        if args.scores_only:
            if backend != "macs":
                raise ConfigError("scores_only", backend, "works with `backend=macs` only")
            backend = "macs-scores"
        options = backend_options(args)
        generation = dict(options.pop("generation", None) or {})
        profile = options.pop("profile", None)
        kw: dict[str, Any] = {
            "inputs": args.input, "prompt": args.prompt, "backend": backend, "backend_options": options,
            "profile": getattr(args, "profile", None) or profile, "sampling": sampling_from_args(args),
            "generation": generation, "batch_size": args.batch_size, "limit": args.limit,
            "decode_workers": args.decode_workers, "out": args.out, "resume": args.resume, "overwrite": args.overwrite,
            "shard": args.shard, "shard_method": args.shard_method, "merge": not args.no_merge,
            "progress": not args.no_progress, "engine": args.engine, "address": args.address,
            "ray_actors": args.ray_actors, "ray_gpus_per_actor": args.ray_gpus_per_actor,
            "ray_num_cpus": args.ray_num_cpus,
        }
        if base is not None:
            kw = _overlay(base, kw, given | ({"backend"} if args.scores_only else set()))
        try:
            return cls(**kw)
        except ConfigError as exc:
            raise _as_flag_error(exc) from None

    @classmethod
    def from_file(cls, path: str | os.PathLike, **overrides: Any) -> ScoreJob:
        """A job from a YAML or JSON file of :data:`FILE_KEYS`, or from the ``run.json`` of an earlier run
        (replayed: same inputs, spec and settings; pass ``out``/``resume`` to choose where it goes)."""
        path = Path(path)
        data = _load(path)
        if "spec" in data and "inputs" not in data:
            data = run_info_job(data, path)
        unknown = [k for k in data if k not in FILE_KEYS]
        if unknown:
            v.choice(f"{path.name}: setting", unknown[0], FILE_KEYS)
        data.update(overrides)
        if "inputs" not in data:
            raise InputError(path, "no 'inputs' (the video file, folder or manifest to score)")
        base = path.parent
        for key in ("inputs", "out"):  # relative paths in a job file are relative to the file
            if key in data and data[key] is not None and not Path(str(data[key])).is_absolute() and key not in overrides:
                data[key] = str(base / str(data[key]))
        return cls(**data)

    # ------------------------------------------------------------------------------------------- views

    def options(self) -> dict[str, Any]:
        """Keyword options for the backend (``profile`` and ``generation`` included when set)."""
        opts = dict(self.backend_options)
        if self.generation:
            opts["generation"] = {**dict(opts.get("generation") or {}), **dict(self.generation)}
        if self.profile is not None:
            opts["profile"] = self.profile
        return opts

    def spec(self) -> tuple[RunSpec, dict[str, Any]]:
        """``(run spec, runtime settings)`` (see :meth:`RunSpec.describe`); settings include batch size and
        decode workers."""
        options = self.options()
        options.pop("profile", None)
        spec, settings = RunSpec.describe(self.backend, options, dict(self.sampling), profile=self.profile)
        return spec, {"batch_size": self.batch_size, "decode_workers": self.decode_workers, **settings}

    def ray_options(self):
        """The :class:`aigve.run.ray_engine.RayOptions` of this job (``engine`` ray)."""
        from aigve.run.ray_engine import RayOptions

        return RayOptions(address=self.address, actors=self.ray_actors, gpus_per_actor=self.ray_gpus_per_actor,
                          num_cpus=self.ray_num_cpus)

    def shard_rank(self, env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
        """``(rank, world)`` this process scores, or None when not sharded."""
        from aigve.sharding import resolve_shard

        return resolve_shard(self.shard, env)

    def replace(self, **changes: Any) -> ScoreJob:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The job as a job file holds it (``ScoreJob.from_file`` reads it back equal)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in ("backend_options", "sampling", "generation"):
            out[key] = dict(out[key])
        out["out"] = str(self.out)
        return out

    def record(self) -> dict[str, Any]:
        """What run.json records as ``job`` for a replay: :meth:`to_dict` with absolute paths, no resume or
        overwrite (a replay chooses its own), and the API key of a server never written."""
        from aigve.run.spec import SECRET_OPTIONS

        out = self.to_dict()
        out.update(inputs=str(Path(self.inputs).resolve()), out=str(self.out.resolve()), resume=False, overwrite=False)
        out["backend_options"] = {k: val for k, val in out["backend_options"].items() if k not in SECRET_OPTIONS}
        return out


def _strategies() -> tuple[str, ...]:
    from aigve.config import SAMPLING_STRATEGIES

    return tuple(SAMPLING_STRATEGIES)


def _given(args: Any) -> set[str]:
    """Settings whose flags differ from the parser defaults (``args._defaults``, set by ``aigve score``)."""
    defaults = getattr(args, "_defaults", None) or {}
    return {name for name, default in defaults.items() if getattr(args, name, default) != default}


_ARG_TO_SETTING = {"input": "inputs", "no_merge": "merge", "no_progress": "progress", "strategy": "sampling",
                   **{n: "sampling" for n in SAMPLING_FIELDS}, "max_new_tokens": "generation",
                   "model": "backend_options", "adapter": "backend_options", "dtype": "backend_options",
                   "device": "backend_options", "attn_implementation": "backend_options",
                   "backend_option": "backend_options"}


def _overlay(base: ScoreJob, cli: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """``base``'s settings with those the command line gave explicitly on top (mappings merged key by key)."""
    kw = {k: v for k, v in base.to_dict().items()}
    for arg in given:
        setting = _ARG_TO_SETTING.get(arg, arg)
        if setting not in cli:
            continue
        if setting in ("backend_options", "sampling", "generation"):
            kw[setting] = {**kw[setting], **cli[setting]}
        else:
            kw[setting] = cli[setting]
    return kw


def _as_flag_error(exc: ConfigError) -> ConfigError:
    flag = FLAGS.get(exc.field)
    return ConfigError(flag, exc.value, exc.fix) if flag else exc


def _load(path: Path) -> dict[str, Any]:
    import json

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(path, "job file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the job file ({exc})") from None
    import yaml

    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:  # both say where
        raise InputError(path, f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} "
                               f"({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise InputError(path, "a job file must hold a mapping of settings (inputs, backend, out, ...)")
    return data


def run_info_job(info: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The job settings a ``run.json`` records (``job``, written by :func:`aigve.run.batch.begin_run`), so a
    replay scores the same inputs with the same spec and settings."""
    job = info.get("job")
    if not isinstance(job, Mapping):
        raise InputError(path, "this run.json records no job (written by an older aigve); write a job file with "
                               "inputs, backend, backend_options and sampling instead")
    return dict(job)


# ------------------------------------------------------------------------------------ pre-flight + building


#: Backends that load a checkpoint (hub id or folder) in this process (``vllm`` only without ``server_url``).
CHECKPOINT_BACKENDS = ("macs", "macs-scores", "vllm")


def check_sources(backend: str, options: Mapping[str, Any]) -> None:
    """Pre-flight for :data:`CHECKPOINT_BACKENDS`: raise ModelLoadError now when the model or adapter cannot be
    found (a missing folder, a folder without its config, a hub id not cached while offline, an unreachable hub).

    Cheap: :func:`aigve.backends.hf_checkpoint.resolve_source` reads the local cache and at most opens one TCP
    connection; nothing is loaded. The backend resolves the same names again when it loads them.
    """
    if backend not in CHECKPOINT_BACKENDS or (backend == "vllm" and options.get("server_url")):
        return
    from aigve.backends.base import spec_defaults
    from aigve.backends.hf_checkpoint import resolve_source
    from aigve.registry import BACKENDS

    local = options.get("local_files_only")
    resolve_source(options.get("model") or spec_defaults(BACKENDS.get(backend)).model, local_files_only=local)
    if options.get("adapter") is not None:
        resolve_source(options["adapter"], local_files_only=local, what="adapter", setting="adapter",
                       required_file="adapter_config.json")
    if backend == "vllm":
        from aigve.backends.vllm import vllm_unavailable_reason

        reason = vllm_unavailable_reason()
        if reason is not None:
            raise ModelLoadError(f"vllm backend: {reason}; or set `backend_option=server_url=http://HOST:PORT` "
                                 f"to use a running `vllm serve` instead")


def build_evaluator(job: ScoreJob, **extra: Any):
    """The :class:`~aigve.evaluator.Evaluator` of ``job`` (loads the model)."""
    from aigve.evaluator import load_evaluator

    extra.setdefault("workers", job.decode_workers)
    return load_evaluator(job.backend, sampling=dict(job.sampling), **job.options(), **extra)
