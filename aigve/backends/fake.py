"""A deterministic stand-in judge for tests and demos. Its scores mean nothing.

It writes text in the released model's JSON format (so the parser is exercised end to end),
with scores derived from a hash of the frames and the prompt: the same input always gives the
same answer, different inputs usually differ.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

from aigve.aspects import ASPECTS, output_key
from aigve.backends.base import BackendOutput, SpecDefaults
from aigve.core.provenance import FAKE, Provenance
from aigve.media import SampledVideo


class FakeBackend:
    """Deterministic fake backend.

    ``seed`` changes every score. ``fail_on``: substring of a video path that makes that item
    raise (to exercise error handling). ``delay_s``: seconds slept per video (to mimic a model).
    """

    name = "fake"
    uses_prompt = True  # seeded by the prompt: tests see prompt plumbing
    videos_per_item = 1

    @classmethod
    def spec_defaults(cls) -> SpecDefaults:
        """What a run spec fills in for options left unset (see :class:`aigve.backends.base.SpecDefaults`)."""
        return SpecDefaults(released_keys=True)

    def __init__(self, seed: int = 0, fail_on: str | None = None, delay_s: float = 0.0, released_keys: bool = True):
        self.seed, self.fail_on, self.delay_s, self.released_keys = int(seed), fail_on, float(delay_s), released_keys

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "model": None, "seed": self.seed, "note": "deterministic fake scores, not an evaluation",
                "provenance": self.provenance().to_dict()}

    def provenance(self) -> Provenance:
        """Declared, not guessed: this backend is never a real evaluation."""
        return FAKE

    def sampling_overrides(self) -> dict[str, Any]:
        return {"max_pixels": 112 * 112, "min_pixels": 28 * 28, "max_frames": 8}

    def prepare(self, videos: Sequence[SampledVideo], prompts: Sequence[str]) -> None:
        """Nothing to prepare ahead: placeholder scores need no preprocessing."""
        return None

    def score(self, videos: Sequence[SampledVideo], prompts: Sequence[str],
              prepared: None = None) -> list[BackendOutput]:
        return [self._one(v, p) for v, p in zip(videos, prompts, strict=True)]

    def _one(self, video: SampledVideo, prompt: str) -> BackendOutput:
        if self.fail_on and self.fail_on in video.path:
            raise RuntimeError(f"fake backend told to fail on {video.path}")
        start = time.perf_counter()
        digest = hashlib.sha256(f"{self.seed}|{prompt}".encode())
        digest.update(video.frames.tobytes()[:: max(1, video.frames.size // 4096)])
        raw = digest.digest()
        answer = {}
        for i, aspect in enumerate(ASPECTS):
            score = raw[i] % 6
            answer[output_key(aspect.key, released=self.released_keys)] = {
                "comment": f"[fake] {aspect.label} looks like {score}/5 for this clip.",
                "score": score,
            }
        if self.delay_s:
            time.sleep(self.delay_s)
        return BackendOutput(text=json.dumps(answer, indent=4),
                             timings={"preprocess_s": 0.0, "model_s": time.perf_counter() - start})
