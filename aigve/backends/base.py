"""The contract every scoring backend fulfils."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aigve.config import SamplingConfig
    from aigve.core.provenance import Provenance
    from aigve.media import SampledPair, SampledVideo
    from aigve.parsing import ParsedResponse


@dataclass
class BackendOutput:
    """What a backend returns for one video.

    Either ``text`` (raw generated text, parsed by the evaluator) or ``parsed`` (a backend that
    measures scores directly) is set. ``expected_scores``/``confidence``: per canonical aspect,
    the probability-weighted mean score over digits 0-5 and the top digit's probability, when the
    backend reads logits. ``timings``: seconds, keys ``preprocess_s`` and ``model_s``. ``preference``: a
    pairwise judge's answer for a pair, dimension -> ``"A"``/``"B"``/``"same"`` (then ``parsed`` holds no scores,
    only the parser's flags).
    """

    text: str | None = None
    parsed: ParsedResponse | None = None
    expected_scores: dict[str, float | None] = field(default_factory=dict)
    confidence: dict[str, float | None] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    num_generated_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    preference: dict[str, str] | None = None


@dataclass(frozen=True)
class SpecDefaults:
    """A backend class's own account of what decides its scores when a run leaves it unset, read by the run
    spec without building the backend. ``model``: the default checkpoint (None: no weights). ``released_keys``:
    the default key spelling (None: the backend has no such option). ``generates``: it generates text under a
    :class:`~aigve.config.GenerationConfig` (so the spec records one, defaults filled). ``server_option``: the
    option that, when set, makes it a client of a server whose model the spec cannot know. ``profiled``: it is
    run by a judge profile (:mod:`aigve.judges.profiles`), which then decides prompt, frames and decoding."""

    model: str | None = None
    released_keys: bool | None = None
    generates: bool = False
    server_option: str | None = None
    profiled: bool = False


def spec_defaults(backend_class: Any) -> SpecDefaults:
    """``backend_class.spec_defaults()`` (every registered backend declares it)."""
    return backend_class.spec_defaults()


@runtime_checkable
class Backend(Protocol):
    """Scores a batch of sampled videos with their prompts; every backend implements all of it, so callers
    never probe a backend with ``getattr``/``hasattr``.

    ``uses_prompt``: False for a backend that never reads the prompts (nobody then warns about missing ones).
    ``videos_per_item``: 1, or 2 for a pairwise judge, which is given :class:`~aigve.media.SampledPair` items
    (the evaluator gives an item with the wrong number of videos an error record, never the backend).
    ``prepare``: the CPU side of a batch (chat template, tokenizer, processor), run by the evaluator in a
    background thread for the next batch while the model works on this one; returns None when the backend
    has nothing to prepare. ``score`` takes equal-length lists (and what ``prepare`` returned for them, or
    None) and returns one output per video, in order; it may raise for the whole batch (the evaluator then
    retries items one by one). ``provenance``: whether its scores are a real evaluation (read from the
    checkpoint's stamp or declared; :mod:`aigve.core.provenance`).
    """

    name: str
    uses_prompt: bool
    videos_per_item: int

    def describe(self) -> dict[str, Any]:
        """Identity recorded with every result: model id or path, adapter, dtype, device, provenance, ..."""
        ...

    def sampling_overrides(self) -> dict[str, Any]:
        """SamplingConfig fields this backend needs changed by default (e.g. smaller frames); may be {}."""
        ...

    def provenance(self) -> Provenance:
        ...

    def prepare(self, videos: Sequence[SampledVideo | SampledPair], prompts: Sequence[str]) -> Any:
        ...

    def score(self, videos: Sequence[SampledVideo | SampledPair], prompts: Sequence[str],
              prepared: Any = None) -> list[BackendOutput]:
        ...

    @classmethod
    def spec_defaults(cls) -> SpecDefaults:
        """What the run spec (:class:`aigve.run.spec.RunSpec`) fills in for options a run leaves unset."""
        ...


def uses_prompt(backend: Any) -> bool:
    """False when ``backend`` (an instance, a class, or a registered name) declares ``uses_prompt = False``:
    it never reads the prompt, so nobody should warn about missing prompts. An unknown name counts as True
    (warn too much rather than too little)."""
    if isinstance(backend, str):
        from aigve.errors import AigveError
        from aigve.registry import BACKENDS

        try:
            backend = BACKENDS.get(backend)
        except AigveError:
            return True
    return bool(backend.uses_prompt)


def default_sampling(backend: Backend, user: SamplingConfig | dict[str, Any] | None) -> SamplingConfig:
    """Merge backend overrides under the user's explicit sampling choices."""
    from aigve.config import SamplingConfig

    base = dict(backend.sampling_overrides() or {})
    if isinstance(user, SamplingConfig):
        return user
    base.update(user or {})
    return SamplingConfig.from_dict(base)
