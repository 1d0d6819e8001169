"""What a sanity check is: a named transform of one clip (a variant video and/or prompt) plus what a judge
that looks at the video and reads the prompt must do to its scores.

Built-in checks are registered in :data:`SANITY_CHECKS` by name (lazily, ``"module:attr"``); a user adds one
with ``SANITY_CHECKS.register(name, SanityCheck(...))`` (see :mod:`aigve.sanity` and the README).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aigve.aspects import ASPECT_KEYS
from aigve.core import validate
from aigve.errors import ConfigError
from aigve.registry import Registry

#: Expectation kinds. ``drop``: the variant's score must be lower than the original's. ``not_rise``: it must
#: not be higher (and should be lower: the share of strict drops is reported beside it). ``equal``: identical.
#: ``band``: within ``band`` points of the original, either way.
KINDS = ("drop", "not_rise", "equal", "band")
#: Default pass thresholds: at least this share of clips moved as expected ...
PASS_SHARE = 0.8
#: ... and the lower end of the share's 95% Wilson interval is above this (more often right than not).
PASS_CI_LOW = 0.5


@dataclass(frozen=True)
class Expectation:
    """How the judge must move. ``aspects``: the aspects it applies to (all nine when empty). ``band``: the
    allowed |change| for ``band``. ``min_share``/``min_ci_low``: the pass thresholds (see :data:`PASS_SHARE`);
    ``equal`` checks default to 1.0 (a deterministic judge repeats itself on every clip)."""

    kind: str
    aspects: tuple[str, ...] = ()
    band: float = 1.0
    min_share: float | None = None
    min_ci_low: float = PASS_CI_LOW

    def __post_init__(self) -> None:
        validate.choice("expectation.kind", self.kind, KINDS)
        unknown = [a for a in self.aspects if a not in ASPECT_KEYS]
        if unknown:
            raise ConfigError("expectation.aspects", ",".join(unknown), f"use canonical keys: {', '.join(ASPECT_KEYS)}")
        validate.non_negative("expectation.band", self.band, high=5)
        if self.min_share is not None:
            validate.fraction("expectation.min_share", self.min_share)
        validate.fraction("expectation.min_ci_low", self.min_ci_low)

    @property
    def targets(self) -> tuple[str, ...]:
        return self.aspects or ASPECT_KEYS

    @property
    def share_threshold(self) -> float:
        if self.min_share is not None:
            return self.min_share
        return 1.0 if self.kind == "equal" else PASS_SHARE

    def holds(self, delta: float) -> bool:
        """Whether one clip's change (variant - original, score points) is what the check expects."""
        if self.kind == "drop":
            return delta < 0
        if self.kind == "not_rise":
            return delta <= 0
        if self.kind == "equal":
            return delta == 0
        return abs(delta) <= self.band

    def violation(self, delta: float) -> float:
        """How far one change is from the expectation (0 when it holds): ranks the worst examples."""
        if self.kind == "drop":
            return max(0.0, delta + 1.0) if delta >= 0 else 0.0
        if self.kind == "not_rise":
            return max(0.0, delta)
        if self.kind == "equal":
            return abs(delta)
        return max(0.0, abs(delta) - self.band)

    def describe(self) -> str:
        names = ", ".join(self.aspects) if self.aspects else "every aspect"
        if self.kind == "drop":
            return f"{names} must drop"
        if self.kind == "not_rise":
            return f"{names} must not rise (and should drop)"
        if self.kind == "equal":
            return f"{names}: identical scores"
        return f"{names}: within ±{self.band:g}"


@dataclass(frozen=True)
class Clip:
    """One input clip as a check sees it. ``fingerprint``: identifies the source file's content version
    (path, size, mtime), so variants made from it are reused on a rerun and remade when it changes.
    ``prompts``: the prompts of every clip of the run, in input order, this one at ``index`` (prompt checks)."""

    id: str
    video: str
    prompt: str
    fingerprint: str
    index: int = 0
    prompts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """What one check turns one clip into: a video file and the prompt to score it with. ``note``: anything
    the report should say about it (e.g. which prompt was swapped in)."""

    video: str
    prompt: str
    note: str = ""


class MakeVariant(Protocol):
    """``(clip, folder) -> Variant``: write the variant video into ``folder`` (the check's own folder under
    ``--out/variants``; reuse a file already there when the name encodes everything it depends on)."""

    def __call__(self, clip: Clip, folder: Path) -> Variant: ...


@dataclass(frozen=True)
class SanityCheck:
    """A named check: ``make`` builds the variant, ``expectation`` says how the scores must move. ``group``:
    a heading for reports (prompt, motion, quality, determinism, invariance, custom)."""

    name: str
    description: str
    make: MakeVariant
    expectation: Expectation
    group: str = "custom"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        validate.text("check.name", self.name)
        if not callable(self.make):
            raise ConfigError("check.make", self.make, "give a callable (clip, folder) -> Variant")

    def __call__(self, clip: Clip, folder: Path) -> Variant:
        return self.make(clip, folder)


SANITY_CHECKS = Registry("sanity check")
_BUILTIN = ("prompt_swap", "frozen", "reversed", "shuffled", "black", "noise", "blur", "jpeg", "duplicate", "rerun",
            "fps_half", "fps_double", "resolution")
for _name in _BUILTIN:
    SANITY_CHECKS.register(_name, f"aigve.sanity.transforms:{_name.upper()}")
#: The checks a run uses when none are named, in report order.
DEFAULT_CHECKS: tuple[str, ...] = _BUILTIN


def resolve_checks(names: Sequence[str] | str | None) -> list[SanityCheck]:
    """The checks to run: ``None`` (all registered, built-ins first), a comma-separated string or a list of
    names; unknown names raise with "did you mean"."""
    if names is None:
        names = [*DEFAULT_CHECKS, *[n for n in SANITY_CHECKS.names() if n not in DEFAULT_CHECKS]]
    elif isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        raise ConfigError("checks", "", f"name at least one of: {', '.join(SANITY_CHECKS.names())}")
    checks: list[SanityCheck] = []
    for name in dict.fromkeys(names):
        check = SANITY_CHECKS.get(name)
        if not isinstance(check, SanityCheck):
            raise ConfigError("checks", name, "register a SanityCheck instance under this name")
        checks.append(check)
    return checks


def make_check(name: str, description: str, make: Callable[[Clip, Path], Variant], kind: str,
               aspects: Sequence[str] = (), *, band: float = 1.0, group: str = "custom") -> SanityCheck:
    """Shorthand for ``SanityCheck(name, description, make, Expectation(kind, tuple(aspects), band))``."""
    return SanityCheck(name, description, make, Expectation(kind, tuple(aspects), band=band), group=group)
