"""``aigve sanity``: does a judge look at the video and read the prompt?

Each registered check (:data:`SANITY_CHECKS`) turns every clip into a controlled variant (prompt swapped,
frozen, reversed, shuffled, black, noise, blurred, JPEG-crushed, duplicated, rescored, frame rate or resolution
changed) and states how the scores must move; :func:`run_sanity` scores originals and variants in one batched
pass and reports, per check and aspect, the share of clips that moved as expected with a Wilson interval.

Adding a check::

    from aigve.sanity import SANITY_CHECKS, Expectation, SanityCheck, frame_transform

    def upside_down(frames, fps, rng):          # (T, H, W, 3) uint8 RGB -> (frames, fps)
        return frames[:, ::-1], fps

    SANITY_CHECKS.register("upside_down", SanityCheck(
        "upside_down", "every frame flipped vertically", frame_transform("upside_down", upside_down),
        Expectation("drop", ("physics",)), group="custom"))

Names load lazily: importing this package does not import OpenCV or the decoders.
"""

from __future__ import annotations

from typing import Any

from aigve.sanity.checks import (
    DEFAULT_CHECKS,
    KINDS,
    PASS_CI_LOW,
    PASS_SHARE,
    SANITY_CHECKS,
    Clip,
    Expectation,
    SanityCheck,
    Variant,
    make_check,
    resolve_checks,
)

__all__ = ["DEFAULT_CHECKS", "KINDS", "PASS_CI_LOW", "PASS_SHARE", "SANITY_CHECKS", "Clip", "Expectation",
           "SanityCheck", "SanityResult", "Variant", "frame_transform", "make_check", "resolve_checks", "run_sanity"]

_LAZY = {"run_sanity": "aigve.sanity.run", "SanityResult": "aigve.sanity.run",
         "frame_transform": "aigve.sanity.transforms"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'aigve.sanity' has no attribute {name!r}")
