"""The run spec: the part of a scoring run that decides the scores, and its comparison with a recorded one.

``run.json`` records the spec; ``--resume`` (and every other rank of a sharded run) must score with the same
spec, or one results file would mix two judges. Everything else (batch size, workers, dtype, device, how a
server is reached: :data:`RUNTIME_OPTIONS`) is a *setting*: recorded, free to change between resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aigve.run.folder import RunFolder, SpecMismatchError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "xiaoliux/AIGVE-MACS"

#: Backend options that do not decide what a run scores: how fast or where it runs, how it reaches a server, and
#: numerics-only choices (dtype, attention kernel, a merged LoRA: the same weights, scores equal up to rounding).
#: run.json records them as ``settings``; a resume may change them. ``api_key`` is recorded only as "<set>".
#: ``server_url`` is among them (each node may run its own server); what a server serves is checked when the
#: evaluator starts (:func:`aigve.run.batch.recording`).
RUNTIME_OPTIONS = frozenset({
    "dtype", "device", "attn_implementation", "merge_adapter", "local_files_only", "trust_remote_code",
    "server_url", "api_key", "concurrency", "max_retries", "retry_backoff_s", "timeout_s",
    "gpu_memory_utilization", "tensor_parallel_size", "pipeline_parallel_size", "max_num_seqs", "enforce_eager",
})
SECRET_OPTIONS = frozenset({"api_key"})


@dataclass(frozen=True)
class RunSpec:
    """What decides a run's scores (see :meth:`describe`). ``to_dict()`` is what run.json records."""

    backend: str
    model: str | None = None
    adapter: str | None = None
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    sampling: Mapping[str, Any] = field(default_factory=dict)
    generation: Mapping[str, Any] | None = None
    released_keys: bool | None = None
    prompt_template: str | None = None
    profile: str | None = None
    profile_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        spec = asdict(self)
        spec["backend_options"] = dict(sorted(dict(self.backend_options).items()))
        spec["sampling"] = dict(self.sampling)
        for key in ("profile", "profile_sha256"):
            if spec[key] is None:  # runs recorded before profiles existed compare equal to runs without one
                del spec[key]
        return spec

    @classmethod
    def describe(cls, backend: str, options: Mapping[str, Any], sampling: Mapping[str, Any],
                 profile: str | None = None) -> tuple[RunSpec, dict[str, Any]]:
        """``(spec, runtime settings)`` of a run of ``backend`` with these backend ``options`` and the sampling
        fields the user set, without building anything.

        The spec has ``model`` and ``adapter`` (the backend's default model filled in, an existing folder as its
        absolute path); ``backend_options`` (the other options, less :data:`RUNTIME_OPTIONS`); ``sampling`` (as
        given: backend defaults follow from the model); ``generation`` (complete, defaults filled, for backends
        that generate); ``released_keys``; ``prompt_template`` (12 hex digits of sha1 over the system prompt and
        instruction template; None for a backend that never reads the prompt); ``profile``.
        """
        from aigve.backends.base import spec_defaults, uses_prompt
        from aigve.config import GenerationConfig
        from aigve.registry import BACKENDS

        factory = BACKENDS.get(backend)
        defaults = spec_defaults(factory)
        options = dict(options)
        settings: dict[str, Any] = {}
        for key in sorted(RUNTIME_OPTIONS & set(options)):
            value = options.pop(key)
            settings[key] = "<set>" if key in SECRET_OPTIONS else value
        for key in ("dtype", "device", "attn_implementation"):
            settings.setdefault(key, None)
        profile = options.pop("profile", None) or profile
        # A vLLM client scores with whatever its server serves: the model is not used. The served model name (when
        # given) is in the spec; the name the server reports is compared when the evaluator starts.
        model = options.pop("model", defaults.model)
        if defaults.server_option and settings.get(defaults.server_option):
            model = None
        adapter = options.pop("adapter", None)
        generation = options.pop("generation", None)
        if defaults.generates and not defaults.profiled and (generation is None or isinstance(generation, dict)):
            generation = GenerationConfig.from_dict(generation).to_dict()
        released = options.pop("released_keys", defaults.released_keys)
        if released is not None:
            released = bool(released)  # as the backend reads it: 0/"false"-like values must not hash as released
        template = prompt_template(released) if uses_prompt(factory) else None
        digest = None
        if defaults.profiled:  # the judge profile decides prompt, frames and decoding: record it, as the backend
            chosen = _spec_profile(profile, model, adapter, released)  # will choose it, and its full-content hash
            profile, digest, released = chosen.name, chosen.content_sha256(), chosen.released_keys
            template = digest[:12]
            user = generation if isinstance(generation, dict) else {}
            generation = {**chosen.generation(), **(user or {})}
            if chosen.from_checkpoint:
                generation["from_checkpoint"] = True  # decoding fields are read from the checkpoint when it loads
        spec = cls(backend=backend, model=_source_name(model), adapter=_source_name(adapter),
                   backend_options=dict(sorted(options.items())), sampling=dict(sampling), generation=generation,
                   released_keys=released, prompt_template=template, profile=profile, profile_sha256=digest)
        return spec, settings


def _spec_profile(name: str | None, model: Any, adapter: Any, released: bool | None):
    """The judge profile a run will use, as the backend will choose it (named, else recorded in a local
    adapter/model folder, else macs-card); read from the options and folders, no model is loaded."""
    from aigve.judges.profiles import resolve_profile, with_released_keys

    def folder(value: Any) -> Any:
        return value if value is not None and Path(str(value)).expanduser().is_dir() else None

    chosen, _ = resolve_profile(name, model=folder(model), adapter=folder(adapter))
    return with_released_keys(chosen, released)


def prompt_template(released_keys: bool | None) -> str:
    """12 hex digits of sha1 over the system prompt and the instruction template (``{prompt}`` unfilled)."""
    from aigve.prompt import SYSTEM_PROMPT, build_instruction

    text = SYSTEM_PROMPT + "\n" + build_instruction("{prompt}", released_keys=released_keys is not False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _source_name(value: Any) -> str | None:
    """A model/adapter as the spec records it: an existing folder as its absolute path (so the same folder
    named from another working directory is the same run), anything else (a hub id) as given."""
    if value is None:
        return None
    path = Path(str(value)).expanduser()
    return str(path.resolve()) if path.exists() else str(value)


# ------------------------------------------------------------------------------------------- comparison

_UNSET = object()


def spec_differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``"field: old -> new"`` for every field that differs, nested fields dotted (``sampling.fps``), sorted."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, _UNSET), new.get(key, _UNSET)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            lines += spec_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            show = [("(unset)" if v is _UNSET else repr(v)) for v in (a, b)]
            lines.append(f"{prefix}{key}: {show[0]} -> {show[1]}")
    return lines


def as_recorded(spec: Mapping[str, Any] | RunSpec) -> Any:
    """``spec`` as a JSON file holds it (tuples as lists, paths and other objects as text), so a spec just
    built compares equal to the same spec read back from run.json or a shard's state file."""
    if isinstance(spec, RunSpec):
        spec = spec.to_dict()
    return json.loads(json.dumps(spec, default=str))


def check_spec(folder: RunFolder, spec: Mapping[str, Any]) -> None:
    """Refuse (:class:`SpecMismatchError`) to add to ``folder``'s results with a ``spec`` other than the recorded
    one. Nothing is checked when the folder holds no record yet; a folder whose run.json has no spec (written
    before aigve recorded one) only gets a warning."""
    if not folder.has_results():
        return
    recorded = folder.read_info().get("spec")
    if not isinstance(recorded, Mapping):
        log.warning("%s: run.json records no run spec (written by an older aigve, or without one); cannot check "
                    "that this run uses the same backend, model and options as the results already there", folder.path)
        return
    diffs = spec_differences(recorded, as_recorded(spec))
    if diffs:
        raise SpecMismatchError(folder.path, "cannot add to the results in this run folder: they were scored with "
                                             "other settings (recorded -> now):\n"
                                + "".join(f"  {d}\n" for d in diffs)
                                + "use the same options to resume it, or score into another `out`")


def shard_conflicts(states: list[Mapping[str, Any]], rank: int, spec: Mapping[str, Any] | None) -> list[str]:
    """How other ranks' recorded specs (their ``shard.rank*.json`` states) differ from ``spec``, one line per rank:
    ranks of one launch must score with the same options, or the merged file would mix two judges."""
    if spec is None:
        return []
    mine = as_recorded(spec)
    problems = []
    for other in states:
        if other.get("rank") == rank or not isinstance(other.get("spec"), Mapping):
            continue
        diffs = spec_differences(other["spec"], mine)
        if diffs:
            problems.append(f"shard {other.get('rank')} (recorded -> this rank): " + "; ".join(diffs))
    return problems
