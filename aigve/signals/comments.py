"""Comments written from the measurements, quoting the numbers a person can check.

Each function takes the raw ``measurements`` (see ``aigve.signals.measures.UNITS``), the 0-5
``subs`` (sub-scores per measurement, from the calibration) and returns one or two sentences.
"""

from __future__ import annotations

from collections.abc import Mapping

from aigve.aspects import BY_KEY

VLM_HINT = "use a vision-language backend (e.g. --backend macs)"
_Numbers = Mapping[str, float | None]


def band(score: float | None, words: tuple[str, str, str, str]) -> str:
    """Pick a word for a 0-5 sub-score: >= 4.5, >= 3.5, >= 2, below."""
    if score is None:
        return "not measured"
    return words[0] if score >= 4.5 else words[1] if score >= 3.5 else words[2] if score >= 2 else words[3]


def _weakest(subs: _Numbers, names: Mapping[str, str]) -> str | None:
    """Name the measurements within half a point of the worst sub-score (when below 4.5); a ``*_max``
    measurement is left out when its mean is already named."""
    present = {k: subs[k] for k in names if subs.get(k) is not None}
    if not present or min(present.values()) >= 4.5:
        return None
    worst = min(present.values())
    chosen = [k for k, v in present.items() if v <= worst + 0.5]
    chosen = [k for k in chosen if not (k.endswith("_max") and k[: -len("_max")] in chosen)]
    return "; ".join(names[k] for k in chosen)


def technical_comment(m: _Numbers, subs: _Numbers) -> str:
    """Sharpness, noise, blocking, exposure and colourfulness, with their numbers."""
    if m.get("edge_width") is None:
        sharp = f"Sharpness not judged: no clear edges (Crete blur {m['blur_effect']:.2f}; 0 = sharp, 1 = blurred)"
    else:
        sharp = (f"{band(subs.get('edge_width'), ('sharp', 'slightly soft', 'blurred', 'very blurred')).capitalize()} "
                 f"(strongest edges {m['edge_width']:.1f} px wide at {m['frame_width']:.0f}x{m['frame_height']:.0f}; "
                 f"Crete blur {m['blur_effect']:.2f}, 0 = sharp, 1 = blurred)")
    parts = [
        sharp,
        f"{band(subs.get('noise_sigma'), ('clean', 'light noise', 'noticeable noise', 'heavy noise'))} "
        f"(noise sigma {m['noise_sigma']:.1f} grey levels)",
    ]
    if m.get("blockiness") is not None:
        parts.append(f"{band(subs.get('blockiness'), ('no visible block grid', 'mild blocking', 'blocking', 'strong blocking'))}"
                     f" (block-grid ratio {m['blockiness']:.2f}; 1 = none)")
    exposure = min((subs.get(k) for k in ("exposure_deviation", "clipped_fraction", "contrast_rms")
                    if subs.get(k) is not None), default=None)
    tone = "bright" if (m.get("luma_mean") or 0) > 127.5 else "dark"
    parts.append(f"exposure {band(exposure, ('fine', 'slightly off', 'poor', 'very poor'))} (mean luma "
                 f"{m['luma_mean']:.0f}/255, {tone}; {100 * m['clipped_fraction']:.1f}% of pixels clipped; "
                 f"RMS contrast {m['contrast_rms']:.0f})")
    colour = m["colourfulness"]
    mood = "near-monochrome" if colour < 8 else "muted" if colour < 25 else "colourful" if colour < 82 else "very colourful"
    parts.append(f"colourfulness {colour:.0f} ({mood}; Hasler-Suesstrunk, not scored since it may be the intended style)")
    weakest = _weakest(subs, {"edge_width": "sharpness", "noise_sigma": "noise", "blockiness": "blocking",
                              "exposure_deviation": "exposure", "clipped_fraction": "clipped highlights/shadows",
                              "contrast_rms": "contrast"})
    tail = f" Weakest point: {weakest}." if weakest else ""
    return "; ".join(parts) + "." + tail


def dynamic_comment(m: _Numbers, score: float | None) -> str:
    """Flow magnitude in normalised and pixel units, camera vs object share."""
    if m.get("flow_pct_diag_s") is None:
        return "Not measured: the video has a single distinct frame, so there is no motion to measure."
    verdict = ("nearly static", "very little motion", "some motion", "moderate motion", "lively motion",
               "strong motion")[max(0, min(5, int((score or 0) + 0.5)))]
    cam, obj = m["camera_pct_diag_s"], m["object_pct_diag_s"]
    who = ("mostly camera motion" if cam > 1.0 and cam > obj else "mostly object motion" if obj > 1.0
           else "camera and objects barely move")
    return (f"Mean optical flow {m['flow_pct_diag_s']:.1f}% of the frame diagonal per second "
            f"({m['flow_px_per_pair']:.1f} px between sampled frames at {m['frame_width']:.0f}x{m['frame_height']:.0f}, "
            f"{m['sampled_fps']:.1f} fps): {verdict}. Camera {cam:.1f}%/s, objects {obj:.1f}%/s "
            f"(fastest 2% of the frame {m['object_p98_pct_diag_s']:.1f}%/s): {who}. "
            "Whether this is the motion the prompt calls for is not judged.")


def consistency_comment(m: _Numbers, subs: _Numbers, score: float | None) -> str:
    """Warping error and flicker with the weakest of them named."""
    if m.get("warp_error") is None:
        return "Not measured: the video has a single distinct frame, so there is nothing to compare over time."
    verdict = band(score, ("stable", "mostly stable", "some flicker or morphing", "unstable"))
    weakest = _weakest(subs, {"warp_error": "content changes beyond what the motion explains (morphing, popping "
                                            "or temporal noise)",
                              "warp_error_max": "one abrupt change between two frames",
                              "flicker": "brightness/colour flicker", "flicker_max": "a brightness/colour jump"})
    tail = f" Main issue: {weakest}." if weakest else ""
    return (f"After following the motion, frames differ by {m['warp_error']:.1f} grey levels on average "
            f"(worst pair {m['warp_error_max']:.1f}); frame brightness/colour jumps {m['flicker']:.1f} grey levels "
            f"(largest {m['flicker_max']:.1f}): {verdict}.{tail}")


def overall_comment(scores: _Numbers, weights: Mapping[str, float], overall: float | None) -> str:
    """States that overall comes only from the measured aspects, with their values and weights."""
    used = [(k, scores[k], w) for k, w in weights.items() if scores.get(k) is not None and w > 0]
    if overall is None or not used:
        return f"Not scored: nothing was measured. For a full judgement {VLM_HINT}."
    parts = ", ".join(f"{BY_KEY[k].label.lower()} {s:.1f} (weight {w:g})" for k, s, w in used)
    return (f"Computed only from what pixels can tell: {parts} -> {overall:.1f}. Prompt adherence (elements, "
            f"actions) and physics were not judged; for those {VLM_HINT}.")


def unscored_comment(aspect: str) -> str:
    """Why an aspect the signals backend cannot judge is left None."""
    need = "the prompt and recognising what is in the frames" if BY_KEY[aspect].needs_prompt else \
        "understanding what happens in the scene"
    return (f"Not scored: judging {BY_KEY[aspect].label.lower()} needs {need}, which pixel statistics cannot do; "
            f"{VLM_HINT}.")
