"""Prompt -> scene description for the procedural generator: which objects, colours, surface, sky and motion
to draw, and how much flicker, jitter, blur and noise to add.

The mapping is deliberately simple and checkable: nouns pick shapes, a colour word before a noun colours it,
action words pick a motion, and quality words switch artefacts off. Without stability words ("smooth",
"stable", "steady", "consistent", ...) the video flickers and jitters; without motion (an action word such as
"bouncing", or "moving", "dynamic", "camera pan") it stays still; without detail words ("sharp", "high
detail", "crisp", ...) it is blurred and noisy. Each extra distinct word of a kind strengthens its effect, so a
refiner that keeps adding the right words keeps improving the video.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from aigve.refine.intent import stem, words

RGB = tuple[int, int, int]

COLOURS: dict[str, RGB] = {
    "red": (215, 30, 30), "crimson": (170, 20, 40), "green": (40, 165, 60), "blue": (40, 80, 220),
    "yellow": (240, 210, 40), "orange": (245, 140, 30), "purple": (140, 60, 180), "violet": (140, 60, 180),
    "pink": (240, 130, 180), "white": (245, 245, 245), "black": (25, 25, 25), "brown": (130, 80, 40),
    "grey": (128, 128, 128), "gray": (128, 128, 128), "golden": (212, 175, 55), "gold": (212, 175, 55),
    "silver": (190, 190, 200), "cyan": (40, 200, 220), "teal": (30, 150, 150),
}

# noun -> (shape, default colour, size relative to frame height)
OBJECTS: dict[str, tuple[str, RGB, float]] = {
    **{n: ("circle", (215, 60, 40), 0.10) for n in ("ball", "sphere", "orb", "balloon", "apple", "planet")},
    "sun": ("circle", (250, 210, 60), 0.12), "moon": ("circle", (230, 230, 210), 0.10),
    **{n: ("square", (200, 150, 60), 0.11) for n in ("cube", "box", "block", "crate", "dice")},
    **{n: ("car", (50, 90, 200), 0.10) for n in ("car", "bus", "truck", "van", "train", "boat", "ship")},
    **{n: ("tree", (40, 130, 50), 0.22) for n in ("tree", "pine", "bush")},
    **{n: ("house", (190, 120, 90), 0.20) for n in ("house", "building", "tower", "hut")},
    **{n: ("animal", (200, 120, 50), 0.09) for n in ("cat", "dog", "horse", "cow", "fox", "rabbit", "puppy")},
    **{n: ("person", (225, 180, 150), 0.16) for n in ("person", "man", "woman", "girl", "boy", "child",
                                                       "dancer", "runner", "people")},
    **{n: ("bird", (40, 40, 40), 0.06) for n in ("bird", "butterfly", "plane", "airplane", "kite", "eagle")},
    "fish": ("fish", (245, 140, 30), 0.07),
}

# material word -> (texture kind, base colour). A surface noun without a material gets a default.
MATERIALS: dict[str, tuple[str, RGB]] = {
    "wooden": ("wood", (139, 90, 43)), "wood": ("wood", (139, 90, 43)),
    **{w: ("grass", (70, 140, 50)) for w in ("grass", "grassy", "lawn", "meadow", "field")},
    **{w: ("water", (40, 100, 170)) for w in ("water", "sea", "ocean", "lake", "river", "pool")},
    **{w: ("sand", (220, 195, 140)) for w in ("sand", "sandy", "beach", "desert")},
    **{w: ("snow", (235, 240, 250)) for w in ("snow", "snowy", "ice", "icy")},
    **{w: ("asphalt", (90, 90, 95)) for w in ("road", "street", "asphalt", "concrete", "pavement")},
    **{w: ("tile", (220, 220, 215)) for w in ("marble", "tile", "tiled")},
    **{w: ("carpet", (150, 40, 50)) for w in ("carpet", "rug")},
}
SURFACE_NOUNS = {"floor": ("wood", (139, 90, 43)), "ground": ("dirt", (120, 95, 60)),
                 "table": ("wood", (150, 100, 55)), "stage": ("wood", (139, 90, 43))}
INDOOR = {"floor", "room", "indoor", "indoors", "kitchen", "table", "stage", "studio", "office"}

# action stem -> motion kind
ACTIONS: dict[str, str] = {
    **{stem(w): "bounce" for w in ("bouncing", "jumping", "hopping", "leaping")},
    **{stem(w): "travel" for w in ("rolling", "moving", "running", "walking", "driving", "sliding", "swimming",
                                   "sailing", "racing", "crossing", "chasing")},
    **{stem(w): "fly" for w in ("flying", "floating", "soaring", "gliding", "hovering", "drifting")},
    **{stem(w): "spin" for w in ("spinning", "rotating", "turning", "twirling")},
    **{stem(w): "fall" for w in ("falling", "dropping", "sinking")},
    **{stem(w): "sway" for w in ("dancing", "swaying", "waving", "shaking", "wobbling")},
}
STATIC_SHAPES = {"tree", "house"}

MOTION_WORDS = {"moving", "motion", "movement", "dynamic", "fast", "energetic", "lively", "active"}
SLOW_WORDS = {"slow", "slowly", "gentle", "gently", "calm"}
PAN_PHRASES = ("camera pan", "panning", "tracking shot", "pan shot", "camera follows", "following the action")
STABLE_WORDS = {"smooth", "stable", "steady", "consistent", "coherent", "stabilized", "stabilised", "seamless",
                "continuous"}
DETAIL_PHRASES = ("sharp", "crisp", "high detail", "detailed", "high resolution", "high definition", "4k", "8k",
                  "clean image", "in focus", "sharp focus", "cinematography", "ultra hd")

BASE_FLICKER = 0.20     # std of the per-frame brightness gain with no stability word
BASE_JITTER = 3.0       # px of per-frame position/size wobble with no stability word
BASE_BLUR = 2.2         # Gaussian sigma in px with no detail word
BASE_NOISE = 14.0       # std of per-pixel noise (0-255 scale) with no detail word
STABLE_FACTOR = 0.3     # each distinct stability word multiplies flicker and jitter by this
DETAIL_FACTOR = 0.35    # each distinct detail phrase multiplies blur and noise by this


@dataclass
class SceneObject:
    noun: str
    shape: str
    colour: RGB
    size: float
    motion: str  # "none", "bounce", "travel", "fly", "spin", "fall", "sway"


@dataclass
class Scene:
    """Everything the renderer needs. ``motion_scale`` 0 = still; ``pan_speed`` in frame widths per second;
    ``flicker`` relative brightness std; ``jitter``/``blur`` in px; ``noise`` on the 0-255 scale."""

    objects: list[SceneObject]
    surface: tuple[str, RGB] | None
    sky: str
    motion_scale: float
    pan_speed: float
    flicker: float
    jitter: float
    blur: float
    noise: float
    triggers: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _count(text: str, tokens: list[str], vocab: set[str] | tuple[str, ...]) -> list[str]:
    """Distinct vocabulary items present; a phrase inside a longer found phrase counts once ("sharp focus")."""
    found = [item for item in vocab
             if (f" {item} " in f" {text} " if " " in item or not item.isalpha() else item in tokens)]
    return sorted(f for f in found if not any(f != g and f in g for g in found))


def parse_scene(prompt: str) -> Scene:
    """Read a prompt into a :class:`Scene` (pure function of the text)."""
    tokens = words(prompt)
    text = " ".join(re.findall(r"[a-z0-9][a-z0-9'-]*", prompt.lower()))  # keeps "4k" for phrase look-ups
    stems = [stem(t) for t in tokens]
    motions = [ACTIONS[s] for s in stems if s in ACTIONS]
    motion_words = _count(text, tokens, MOTION_WORDS)
    slow = _count(text, tokens, SLOW_WORDS)
    pan = [p for p in PAN_PHRASES if p in text]
    stable = _count(text, tokens, STABLE_WORDS)
    detail = _count(text, tokens, DETAIL_PHRASES)

    default_motion = motions[0] if motions else ("travel" if motion_words else "none")
    objects: list[SceneObject] = []
    for i, token in enumerate(tokens):
        key = token if token in OBJECTS else token[:-1] if token.endswith("s") and token[:-1] in OBJECTS else None
        if key is None:
            continue
        shape, colour, size = OBJECTS[key]
        for prev in tokens[max(0, i - 3): i][::-1]:
            if prev in COLOURS:
                colour = COLOURS[prev]
                break
        motion = "none" if shape in STATIC_SHAPES else default_motion
        objects.append(SceneObject(key, shape, colour, size, motion))
    surface = None
    for token in tokens:
        if token in MATERIALS:
            surface = MATERIALS[token]
            break
        if token in SURFACE_NOUNS and surface is None:
            surface = SURFACE_NOUNS[token]
    sky = ("night" if {"night", "dark", "space", "stars", "starry"} & set(tokens)
           else "sunset" if {"sunset", "dusk", "dawn", "sunrise"} & set(tokens)
           else "indoor" if INDOOR & set(tokens) else "day")

    scale = (1.0 if motions else 0.6 if motion_words else 0.0)
    scale *= min(1.0 + 0.4 * len(motion_words), 2.2) * 0.6 ** len(slow)
    return Scene(
        objects=objects, surface=surface, sky=sky, motion_scale=round(scale, 4),
        pan_speed=0.25 * len(pan) if pan else 0.0,
        flicker=BASE_FLICKER * STABLE_FACTOR ** len(stable), jitter=BASE_JITTER * STABLE_FACTOR ** len(stable),
        blur=BASE_BLUR * DETAIL_FACTOR ** len(detail), noise=BASE_NOISE * DETAIL_FACTOR ** len(detail),
        triggers={"motion": motion_words, "actions": sorted(set(motions)), "slow": slow, "pan": pan,
                  "stable": stable, "detail": detail},
    )
