"""The nine aspects: the one source of truth read by prompts, parser, loss weights, reports, CLI and UI.

The released AIGVE-MACS checkpoint and the AIGVE-Bench files spell two keys ``element_presentence`` and
``action_presentence``. Every input accepts both spellings (and the aliases below); every output uses the
canonical key; the released model is prompted with the spelling it was trained on (``released_key``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCORE_MIN = 0
SCORE_MAX = 5


@dataclass(frozen=True)
class Aspect:
    """One scored aspect of a generated video.

    ``key``: canonical key written on every output. ``released_key``: key the released model was trained
    with. ``needs_prompt``: whether judging it needs the text prompt. ``zero_means_absent``: AIGVE-Bench
    convention that 0 means "no such action in the prompt, or the action is absent".
    """

    key: str
    label: str
    definition: str
    rubric: str
    needs_prompt: bool
    released_key: str
    zero_means_absent: bool = False
    aliases: tuple[str, ...] = ()
    score_min: int = SCORE_MIN
    score_max: int = SCORE_MAX


ASPECTS: tuple[Aspect, ...] = (
    Aspect(
        "technical_quality", "Technical quality",
        "the visual fidelity of the frames: resolution, sharpness, colour accuracy, and the absence of "
        "noise, blur, compression artefacts and distortions",
        "5 = crisp and clean throughout; 3 = noticeable blur, noise or artefacts; 0 = unrecognisable",
        needs_prompt=False, released_key="technical_quality",
        aliases=("quality", "visual_quality", "technical", "image_quality"),
    ),
    Aspect(
        "dynamic", "Dynamic degree",
        "how much meaningful motion the video shows, of the objects and of the camera, relative to what "
        "the scene calls for",
        "5 = rich, clearly visible motion; 3 = some motion; 0 = completely static",
        needs_prompt=False, released_key="dynamic",
        aliases=("dynamics", "dynamic_degree", "motion", "dynamism"),
    ),
    Aspect(
        "consistency", "Consistency",
        "temporal consistency: objects and scene keep their identity, shape, colour and position over "
        "time, without flicker, morphing or abrupt changes",
        "5 = perfectly stable; 3 = some flicker or morphing; 0 = incoherent from frame to frame",
        needs_prompt=False, released_key="consistency",
        aliases=("temporal_consistency", "consistence", "coherence"),
    ),
    Aspect(
        "physics", "Physics",
        "whether motion, lighting, contact, gravity and materials follow real-world physics",
        "5 = physically plausible throughout; 3 = some implausible behaviour; 1 = clearly violates physics",
        needs_prompt=False, released_key="physics",
        aliases=("physical", "physics_rule", "physical_plausibility", "physics_adherence"),
    ),
    Aspect(
        "element_presence", "Element presence",
        "whether every object, subject and scene element named in the prompt appears in the video",
        "5 = every element present; 3 = some elements missing; 0 = none present",
        needs_prompt=True, released_key="element_presentence",
        aliases=("element_presentence", "element_present", "elements_presence", "object_presence"),
    ),
    Aspect(
        "element_quality", "Element quality",
        "how realistic, detailed and well-formed the prompted elements look",
        "5 = lifelike and detailed; 3 = recognisable but flawed; 0 = malformed beyond recognition",
        needs_prompt=True, released_key="element_quality",
        aliases=("elements_quality", "object_quality"),
    ),
    Aspect(
        "action_presence", "Action presence",
        "whether the actions and events described in the prompt take place in the video",
        "5 = every action happens; 3 = partly; 0 = the prompt has no action or the action is absent",
        needs_prompt=True, released_key="action_presentence", zero_means_absent=True,
        aliases=("action_presentence", "action_present", "actions_presence", "motion_presence"),
    ),
    Aspect(
        "action_quality", "Action quality",
        "how natural, smooth and correct the prompted actions look when they happen",
        "5 = natural and fluent; 3 = awkward or partly wrong; 0 = no action to judge",
        needs_prompt=True, released_key="action_quality", zero_means_absent=True,
        aliases=("actions_quality", "motion_quality"),
    ),
    Aspect(
        "overall", "Overall",
        "the overall quality of the video as a realisation of the prompt, weighing all aspects above",
        "5 = excellent; 3 = acceptable; 0 = unusable",
        needs_prompt=True, released_key="overall",
        aliases=("overall_score", "overall_quality", "total", "summary"),
    ),
)

ASPECT_KEYS: tuple[str, ...] = tuple(a.key for a in ASPECTS)
RELEASED_KEYS: tuple[str, ...] = tuple(a.released_key for a in ASPECTS)
BY_KEY: dict[str, Aspect] = {a.key: a for a in ASPECTS}


_SCORE_WORDS = frozenset({"score", "scores", "rating", "ratings", "grade"})


def normalise_aspect_name(name: str) -> str:
    """The one spelling rule for aspect names: lower-case; spaces, hyphens and camelCase folded into
    underscores; a leading or trailing "score"/"rating"/"grade" word dropped. So ``physics_score``,
    ``score_physics``, ``Physics Score``, ``PhysicsScore`` and ``physics`` all become ``physics``; a bare
    ``score`` becomes "" (a field name, not an aspect)."""
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", str(name).strip())
    words = [w for w in re.sub(r"[^a-z0-9]+", "_", name.lower()).split("_") if w]
    while words and words[-1] in _SCORE_WORDS:
        words.pop()
    while words and words[0] in _SCORE_WORDS:
        words.pop(0)
    return "_".join(words)


_normalise = normalise_aspect_name

_LOOKUP: dict[str, str] = {}
for _a in ASPECTS:
    for _name in (_a.key, _a.released_key, _a.label, *_a.aliases):
        _LOOKUP[_normalise(_name)] = _a.key


def canonical_key(name: str, *, fuzzy: bool = False) -> str | None:
    """Map any accepted spelling of an aspect to its canonical key; None if unknown. Spellings are compared
    after :func:`normalise_aspect_name` (``score_physics`` -> ``physics``).

    ``fuzzy=True`` also accepts close misspellings (edit-distance match, e.g. ``techincal_quality``).
    """
    norm = _normalise(str(name))
    if norm in _LOOKUP:
        return _LOOKUP[norm]
    if fuzzy and norm:
        import difflib

        match = difflib.get_close_matches(norm, list(_LOOKUP), n=1, cutoff=0.8)
        if match:
            return _LOOKUP[match[0]]
    return None


def get_aspect(name: str) -> Aspect:
    """Return the :class:`Aspect` for any accepted spelling; raise UnknownNameError otherwise."""
    key = canonical_key(name)
    if key is None:
        from aigve.errors import UnknownNameError

        raise UnknownNameError("aspect", name, list(ASPECT_KEYS))
    return BY_KEY[key]


def output_key(key: str, *, released: bool) -> str:
    """Key to write for ``key``: the released model's spelling when ``released`` else canonical."""
    aspect = get_aspect(key)
    return aspect.released_key if released else aspect.key


def is_valid_score(value: object) -> bool:
    """True for an int (not bool) within [SCORE_MIN, SCORE_MAX]."""
    return isinstance(value, int) and not isinstance(value, bool) and SCORE_MIN <= value <= SCORE_MAX


@dataclass(frozen=True)
class AspectSet:
    """The aspects one judge scores, with their scale: the nine AIGVE-MACS aspects (:data:`DEFAULT_ASPECT_SET`)
    by default; a judge profile with another output (VideoScore2's three dimensions, 1-5) declares its own.

    ``name``: a short id recorded with the profile. ``aspects``: in output order; each key is canonical and
    unique. ``score_min``/``score_max``: the integer scale every aspect of the set is scored on.
    """

    name: str
    aspects: tuple[Aspect, ...]
    score_min: int = SCORE_MIN
    score_max: int = SCORE_MAX

    def __post_init__(self) -> None:
        from aigve.errors import ConfigError

        if not isinstance(self.aspects, tuple):
            object.__setattr__(self, "aspects", tuple(self.aspects))
        keys = [a.key for a in self.aspects]
        if not self.aspects or len(set(keys)) != len(keys):
            raise ConfigError("aspects", keys, "must be a non-empty list of distinct aspect keys")
        if not self.score_min < self.score_max:
            raise ConfigError("score_max", self.score_max, f"must be above score_min ({self.score_min})")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.aspects)

    @property
    def is_default(self) -> bool:
        return self == DEFAULT_ASPECT_SET

    def canonical_key(self, name: str) -> str | None:
        """The canonical key of this set for any accepted spelling (key, released key, label, alias, compared
        after :func:`normalise_aspect_name`); None if the set has no such aspect."""
        norm = _normalise(str(name))
        for a in self.aspects:
            if norm in {_normalise(n) for n in (a.key, a.released_key, a.label, *a.aliases)}:
                return a.key
        return None

    def is_valid_score(self, value: object) -> bool:
        """True for an int (not bool) within this set's scale."""
        return (isinstance(value, int) and not isinstance(value, bool)
                and self.score_min <= value <= self.score_max)


#: The default aspect set: the nine AIGVE-MACS aspects above on 0-5 (the single source of truth stays ASPECTS).
DEFAULT_ASPECT_SET = AspectSet("aigve-macs", ASPECTS, SCORE_MIN, SCORE_MAX)
