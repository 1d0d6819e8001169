"""A small registry of named alternatives (backends, generators, refiners, metrics) with lazy imports.

Entries are ``"module:attribute"`` strings, imported only when asked for, so ``import aigve`` stays light
and optional dependencies (transformers, vllm, diffusers) load only for the backend that needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from aigve.errors import UnknownNameError


class Registry:
    """Named factories of one kind. ``get(name)`` imports and returns the factory."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, str | Callable[..., Any]] = {}

    def register(self, name: str, target: str | Callable[..., Any]) -> None:
        """Register ``target`` (a callable, or a lazy ``"module:attr"`` path) under ``name``."""
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> Callable[..., Any]:
        """Return the factory for ``name``; unknown names raise with "did you mean" and the list."""
        if name not in self._entries:
            raise UnknownNameError(self.kind, name, self.names())
        target = self._entries[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._entries[name] = target
        return target

    def create(self, name: str, **options: Any) -> Any:
        """Build an instance: ``get(name)(**options)``."""
        return self.get(name)(**options)


BACKENDS = Registry("backend")
BACKENDS.register("macs", "aigve.backends.macs:MacsBackend")
BACKENDS.register("macs-scores", "aigve.backends.scoreonly:ScoreOnlyBackend")
BACKENDS.register("fake", "aigve.backends.fake:FakeBackend")
BACKENDS.register("signals", "aigve.backends.signals:SignalsBackend")
BACKENDS.register("vllm", "aigve.backends.vllm:VllmBackend")

GENERATORS = Registry("generator")
GENERATORS.register("procedural", "aigve.refine.generators:ProceduralGenerator")
GENERATORS.register("command", "aigve.refine.generators:CommandGenerator")
GENERATORS.register("diffusers", "aigve.refine.generators:DiffusersGenerator")

REFINERS = Registry("refiner")
REFINERS.register("rules", "aigve.refine.refiners:RulesRefiner")
REFINERS.register("llm", "aigve.refine.refiners:LLMRefiner")

#: Judge profiles (:mod:`aigve.judges.profiles`): each entry builds a :class:`aigve.judges.profile.JudgeProfile`.
PROFILES = Registry("judge profile")
PROFILES.register("macs-card", "aigve.judges.profiles:_macs_card")
PROFILES.register("vs2-harness", "aigve.judges.profiles:_vs2_harness")
PROFILES.register("aigve", "aigve.judges.profiles:_aigve")
PROFILES.register("qwen25vl-zeroshot", "aigve.judges.profiles:_qwen25vl_zeroshot")
PROFILES.register("videoscore2", "aigve.judges.profiles:_videoscore2")
PROFILES.register("unifiedreward-video", "aigve.judges.profiles:_unifiedreward_video")
