"""The ``signals`` backend: scores what pixels can tell, with no model weights.

technical_quality (sharpness, noise, blocking, exposure), dynamic (optical-flow magnitude, camera vs
object) and consistency (flow-warping error, flicker) are measured (``aigve.signals``); overall is the
weighted mean of those three only. element_presence, element_quality, action_presence,
action_quality and physics need a model that reads the prompt and understands the scene, so they are
None with a comment pointing to a vision-language backend. Runs on CPU with OpenCV, in tens of ms per
video after decoding.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2

from aigve.aspects import ASPECT_KEYS, SCORE_MAX, SCORE_MIN
from aigve.backends.base import BackendOutput, SpecDefaults
from aigve.core.provenance import REAL, Provenance
from aigve.media import SampledVideo
from aigve.parsing import ParsedResponse
from aigve.signals import comments
from aigve.signals.calibration import SCORED_ASPECTS, Calibration, default_calibration
from aigve.signals.measures import UNITS, measure_video
from aigve.signals.motion import DIS_PRESETS

OVERALL_KIND = "pixel-only (signals)"
"""What ``signals``' ``overall`` is: a mix of technical_quality, dynamic and consistency, never the prompt."""

logger = logging.getLogger(__name__)

# Sampling chosen for signals (not for a VLM's token budget):
# - 8 fps, up to 32 frames: optical flow needs consecutive samples close in time (large displacements
#   break flow, and alternating-frame flicker aliases away when every other frame is skipped, which
#   4 fps on 8-fps sources would do). Long videos get 32 frames spread evenly (a lower rate); flow
#   figures are divided by the real time between samples, so thresholds still hold.
# - at most 256x256 pixels per frame (patch_factor 16, so a 512x512 source becomes exactly 256x256,
#   an integer 2x reduction that keeps the codec block grid aligned): enough for blur, noise and flow,
#   and ~10x cheaper than the VLM default. min_pixels is kept tiny so small videos are never upscaled
#   (upscaling would add blur that the video does not have).
SAMPLING_OVERRIDES: dict[str, Any] = {
    "fps": 8.0,
    "min_frames": 2,
    "max_frames": 32,
    "min_pixels": 16 * 16,
    "max_pixels": 256 * 256,
    "patch_factor": 16,
}


def _round_score(value: float | None) -> int | None:
    """Half-up rounding into [0, 5]; None stays None."""
    if value is None:
        return None
    return int(min(SCORE_MAX, max(SCORE_MIN, int(value + 0.5))))


class SignalsBackend:
    """Measurement-based judge (no weights). Implements :class:`aigve.backends.base.Backend`.

    ``calibration``: path to a JSON file written by :meth:`Calibration.save` / ``fit_calibration``,
    a :class:`Calibration`, or None for the built-in thresholds. ``flow_preset``: OpenCV DIS preset
    (``ultrafast``, ``fast``, ``medium``); ``medium`` is the default: ~5 ms per 256x256 pair on one
    core and markedly more accurate on small motion than ``fast``. ``device``: accepted for a uniform
    backend interface and ignored (CPU only).
    """

    name = "signals"
    #: Scores come from pixels alone: callers need not warn about missing prompts (see ``Backend``).
    uses_prompt = False
    videos_per_item = 1

    @classmethod
    def spec_defaults(cls) -> SpecDefaults:
        """What a run spec fills in for options left unset (see :class:`aigve.backends.base.SpecDefaults`)."""
        return SpecDefaults()

    def __init__(self, calibration: str | os.PathLike | Calibration | None = None, *,
                 flow_preset: str = "medium", device: str | None = None):
        if flow_preset not in DIS_PRESETS:
            from aigve.errors import ConfigError

            raise ConfigError("flow_preset", flow_preset, f"choose one of {', '.join(DIS_PRESETS)}")
        if isinstance(calibration, Calibration):
            self.calibration, self.calibration_path = calibration, None
        elif calibration is not None:
            self.calibration_path = str(Path(calibration))
            self.calibration = Calibration.load(calibration)
        else:
            self.calibration, self.calibration_path = default_calibration(), None
        self.flow_preset = flow_preset
        if device not in (None, "cpu", "auto"):
            logger.info("signals backend runs on the CPU; device=%r ignored", device)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": None,
            "calibration": self.calibration_path or "default",
            "calibration_source": self.calibration.source,
            "calibration_fingerprint": self.calibration.fingerprint(),
            "flow": f"OpenCV DIS ({self.flow_preset})",
            "opencv": cv2.__version__,
            "device": "cpu",
            "scored_aspects": list(SCORED_ASPECTS) + ["overall"],
            "judged_aspects": list(SCORED_ASPECTS) + ["overall"],
            # this overall is a weighted mix of the three pixel measures above, not the judge's overall
            # impression of prompt and video: named so that no table takes one for the other
            "overall_kind": OVERALL_KIND,
            "calibration_status": self.calibration_status(),
            "provenance": self.provenance().to_dict(),
        }

    def calibration_status(self) -> str:
        """``"uncalibrated: hand-set thresholds"`` or ``"calibrated from FILE"`` (printed by ``aigve score``)."""
        if self.calibration_path is not None:
            return f"calibrated from {self.calibration_path}"
        if self.calibration.fingerprint() == default_calibration().fingerprint():
            return "uncalibrated: hand-set thresholds"
        return f"calibrated ({self.calibration.source})"

    def provenance(self) -> Provenance:
        """Real measurements of the pixels (not a judge's opinion: see ``scored_aspects``)."""
        return REAL

    def sampling_overrides(self) -> dict[str, Any]:
        return dict(SAMPLING_OVERRIDES)

    def measure(self, video: SampledVideo) -> dict[str, float | None]:
        """Raw measurements of one video (units in ``aigve.signals.measures.UNITS``)."""
        return measure_video(video, flow_preset=self.flow_preset)

    def prepare(self, videos: Sequence[SampledVideo], prompts: Sequence[str]) -> None:
        """Nothing to prepare ahead: the measurements work on the decoded frames directly."""
        return None

    def score(self, videos: Sequence[SampledVideo], prompts: Sequence[str],
              prepared: None = None) -> list[BackendOutput]:
        """Score each video; ``prompts`` are accepted for the Backend contract and not read."""
        if len(videos) != len(prompts):
            raise ValueError(f"got {len(videos)} videos but {len(prompts)} prompts; pass one prompt per video")
        return [self.score_one(video) for video in videos]

    def score_one(self, video: SampledVideo) -> BackendOutput:
        """Measure and score one video (see :meth:`score`)."""
        start = time.perf_counter()
        measurements = self.measure(video)
        measured_s = time.perf_counter() - start
        continuous, subs = self.calibration.score(measurements)
        parsed = ParsedResponse()
        for key in ASPECT_KEYS:
            parsed.scores[key] = _round_score(continuous.get(key))
        parsed.comments.update(self._comments(measurements, subs, continuous))
        return BackendOutput(
            parsed=parsed,
            timings={"preprocess_s": 0.0, "model_s": round(measured_s, 6)},
            extra={
                "measurements": measurements,
                "units": {k: UNITS[k] for k in measurements if k in UNITS},
                "subscores": {k: None if v is None else round(v, 4) for k, v in subs.items()},
                "continuous_scores": {k: None if v is None else round(v, 4) for k, v in continuous.items()},
                "calibration": self.calibration_path or "default",
            },
        )

    def _comments(self, m: dict[str, float | None], subs: dict[str, float | None],
                  scores: dict[str, float | None]) -> dict[str, str]:
        out = {key: comments.unscored_comment(key) for key in ASPECT_KEYS
               if key not in SCORED_ASPECTS and key != "overall"}
        out["technical_quality"] = comments.technical_comment(m, subs)
        out["dynamic"] = comments.dynamic_comment(m, scores.get("dynamic"))
        out["consistency"] = comments.consistency_comment(m, subs, scores.get("consistency"))
        out["overall"] = (f"{OVERALL_KIND}: "  # so a reader of one record cannot take it for the judge's overall
                          + comments.overall_comment(scores, self.calibration.overall_weights, scores.get("overall")))
        return out
