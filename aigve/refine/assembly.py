"""Build the loop's parts from names and ``key=value`` options (shared by ``aigve refine`` and
``eval/refine_prompts.py``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aigve.errors import ConfigError


def _check_options(kind: str, name: str, factory: Callable[..., Any], options: dict[str, Any]) -> None:
    """Unknown options raise ConfigError listing the accepted ones (instead of a bare TypeError)."""
    params = inspect.signature(factory).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if n != "self" and p.kind is not p.VAR_POSITIONAL]
    for key, value in options.items():
        if key not in params:
            raise ConfigError(f"{kind} option {key}", value,
                              f"{kind} {name!r} takes: {', '.join(accepted) or 'no options'}")
    missing = [n for n, p in params.items() if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
               p.KEYWORD_ONLY) and n != "self" and n not in options]
    if missing:
        raise ConfigError(f"{kind} option {missing[0]}", None,
                          f"{kind} {name!r} needs --{kind}-option {missing[0]}=...")


def build_generator(name: str, options: dict[str, Any] | None = None) -> Any:
    """A registered generator (``procedural``, ``command``, ``diffusers``) built with ``options``."""
    from aigve.registry import GENERATORS

    factory = GENERATORS.get(name)
    options = dict(options or {})
    _check_options("generator", name, factory, options)
    return factory(**options)


def build_refiner(name: str, model: str | None = None, options: dict[str, Any] | None = None,
                  evaluator: Any = None) -> Any:
    """A registered refiner. For ``llm``, ``model`` is an HF model id or folder, an OpenAI-compatible URL
    (``http://127.0.0.1:8000/v1``; ``options["model"]`` then names the served model), or ``evaluator`` to
    reuse the evaluator's own Qwen2.5-VL as a text model."""
    from aigve.registry import REFINERS

    factory = REFINERS.get(name)
    options = dict(options or {})
    if name != "llm":
        if model is not None:
            raise ConfigError("refiner_model", model, f"only the llm refiner uses a model; refiner {name!r} does not")
        _check_options("refiner", name, factory, options)
        return factory(**options)
    if model is None:
        return factory(**options)  # raises the ConfigError that explains refiner_model
    if model.startswith(("http://", "https://")):
        return factory(options.pop("model", None), endpoint=model, **options)
    if model == "evaluator":
        from aigve.refine.chat import VisionLMChat

        if evaluator is None:
            raise ConfigError("refiner_model", model, "no evaluator to borrow a model from")
        max_fixes = options.pop("max_fixes", 2)
        return factory(client=VisionLMChat.from_evaluator(evaluator, **options), max_fixes=max_fixes)
    return factory(model, **options)


def describe_roles(generator: Any, refiner: Any) -> str:
    """One line naming the generator and refiner (for CLI headers)."""
    return f"generator={getattr(generator, 'name', type(generator).__name__)} " \
           f"refiner={getattr(refiner, 'name', type(refiner).__name__)}"
