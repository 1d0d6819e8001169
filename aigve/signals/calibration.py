"""Raw measurements -> 0-5 scores: the one table of thresholds, its monotone fit to human scores, and
its JSON form.

How a score is made (all knobs live in :class:`Calibration`; the defaults in ``DEFAULT_CURVES`` /
``DEFAULT_ASPECTS`` / ``DEFAULT_OVERALL_WEIGHTS`` below are the only thresholds in the code base):

1. each raw measurement goes through its own piecewise-linear monotone :class:`Curve` to a 0-5
   sub-score (values outside the knots are clamped to the end scores);
2. an aspect combines its sub-scores (``softmin`` = mean of the worst and the average, because one
   severe defect dominates what a viewer notices; ``max`` for motion, where any strong motion counts);
3. the combined value goes through the aspect's ``output`` curve (identity until fitted);
4. ``overall`` is the weighted mean of the aspects that were measured, through its own ``output`` curve.

The default thresholds were set by hand from the published ranges of each statistic and a look at
the 11 LaVie clips in shared/videos; they are NOT fitted to human scores. :func:`fit_calibration`
fits them (isotonic regression, so every map stays monotone) to human-scored videos.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from aigve.aspects import SCORE_MAX, SCORE_MIN, canonical_key
from aigve.errors import ConfigError, InputError

FORMAT = "aigve-signals-calibration"
VERSION = 1
SCORED_ASPECTS = ("technical_quality", "dynamic", "consistency")
COMBINERS = ("softmin", "mean", "min", "max")

_DOWN = (5, 4, 3, 2, 1, 0)  # score at each knot for "lower is better" measurements
_UP = (0, 1, 2, 3, 4, 5)  # ... and for "higher is better"

# ---- THE thresholds: measurement -> (knots in the measurement's unit, score at each knot) ----
DEFAULT_CURVES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # technical_quality (units: see aigve/signals/quality.py)
    "edge_width": ((3.0, 4.5, 6.0, 8.0, 11.0, 15.0), _DOWN),  # px at sampled size
    "noise_sigma": ((1.0, 2.5, 5.0, 9.0, 15.0, 25.0), _DOWN),  # grey levels
    "blockiness": ((1.1, 1.3, 1.6, 2.0, 2.6, 3.5), _DOWN),  # block-grid ratio, 1 = none
    "exposure_deviation": ((85.0, 100.0, 110.0, 117.0, 122.0, 126.0), _DOWN),  # |mean luma - 127.5|
    "clipped_fraction": ((0.05, 0.15, 0.3, 0.5, 0.7, 0.9), _DOWN),  # share of crushed/blown pixels
    "contrast_rms": ((0.5, 2.0, 4.0, 7.0, 12.0, 20.0), _UP),  # luma standard deviation, grey levels
    # dynamic (units: % of frame diagonal per second, see aigve/signals/motion.py)
    "flow_pct_diag_s": ((0.5, 1.0, 2.5, 5.0, 10.0, 20.0), _UP),
    "object_p98_pct_diag_s": ((2.0, 4.0, 8.0, 16.0, 32.0, 60.0), _UP),  # fastest 2% of the frame
    # consistency (grey levels)
    "warp_error": ((2.0, 4.0, 7.0, 11.0, 16.0, 25.0), _DOWN),
    "warp_error_max": ((4.0, 8.0, 14.0, 22.0, 32.0, 45.0), _DOWN),
    "flicker": ((0.75, 1.5, 3.0, 6.0, 12.0, 24.0), _DOWN),
    "flicker_max": ((2.0, 4.0, 8.0, 16.0, 30.0, 50.0), _DOWN),
}
DEFAULT_ASPECTS: dict[str, tuple[tuple[str, ...], str]] = {
    "technical_quality": (("edge_width", "noise_sigma", "blockiness", "exposure_deviation",
                           "clipped_fraction", "contrast_rms"), "softmin"),
    "dynamic": (("flow_pct_diag_s", "object_p98_pct_diag_s"), "max"),
    "consistency": (("warp_error", "warp_error_max", "flicker", "flicker_max"), "softmin"),
}
# Dynamic weighs less: a calm scene can be a good video; blur, noise and flicker rarely are.
DEFAULT_OVERALL_WEIGHTS: dict[str, float] = {"technical_quality": 0.4, "consistency": 0.4, "dynamic": 0.2}


@dataclass(frozen=True)
class Curve:
    """Piecewise-linear monotone map from a measurement to a 0-5 score.

    ``x``: knots, non-decreasing, in the measurement's unit; ``y``: score at each knot, in [0, 5],
    monotone in one direction. Values below ``x[0]`` / above ``x[-1]`` get ``y[0]`` / ``y[-1]``.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __post_init__(self) -> None:
        x, y = np.asarray(self.x, float), np.asarray(self.y, float)
        if len(x) == 0 or len(x) != len(y) or not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ConfigError("curve", (self.x, self.y), "needs equal-length, non-empty, finite x and y")
        if np.any(np.diff(x) < 0):
            raise ConfigError("curve.x", self.x, "knots must be non-decreasing")
        if y.min() < SCORE_MIN or y.max() > SCORE_MAX:
            raise ConfigError("curve.y", self.y, f"scores must lie in [{SCORE_MIN}, {SCORE_MAX}]")
        dy = np.diff(y)
        if np.any(dy > 1e-9) and np.any(dy < -1e-9):
            raise ConfigError("curve.y", self.y, "scores must be monotone (all rising or all falling)")

    @property
    def increasing(self) -> bool:
        return self.y[-1] >= self.y[0]

    def __call__(self, value: float) -> float:
        return float(np.interp(value, self.x, self.y))

    def to_dict(self) -> dict[str, list[float]]:
        return {"x": [float(v) for v in self.x], "y": [float(v) for v in self.y]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curve:
        return cls(tuple(float(v) for v in data["x"]), tuple(float(v) for v in data["y"]))


IDENTITY = Curve((0.0, 5.0), (0.0, 5.0))


@dataclass(frozen=True)
class AspectRule:
    """How one aspect is made from measurements: which ``measures``, how to ``combine`` their
    sub-scores (one of ``COMBINERS``), and the ``output`` curve applied to the combined value."""

    measures: tuple[str, ...]
    combine: str = "softmin"
    output: Curve = IDENTITY

    def __post_init__(self) -> None:
        if self.combine not in COMBINERS:
            raise ConfigError("combine", self.combine, f"choose one of {', '.join(COMBINERS)}")
        if not self.measures:
            raise ConfigError("measures", self.measures, "an aspect needs at least one measurement")


def combine(values: Sequence[float], how: str) -> float:
    """Combine sub-scores (non-empty) by ``how``: softmin = (min + mean) / 2, or mean / min / max."""
    arr = np.asarray(values, dtype=float)
    if how == "softmin":
        return float(0.5 * (arr.min() + arr.mean()))
    return float({"mean": np.mean, "min": np.min, "max": np.max}[how](arr))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Calibration:
    """Every threshold and weight that turns measurements into scores (see the module docstring).

    ``source``: where the numbers come from (default thresholds, or which human data they were fitted
    to); ``fit_stats``: in-sample agreement before/after fitting, per aspect.
    """

    curves: dict[str, Curve]
    aspects: dict[str, AspectRule]
    overall_weights: dict[str, float]
    overall_output: Curve = IDENTITY
    source: str = "default thresholds (hand-set, not fitted to human scores)"
    fit_stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for aspect, rule in self.aspects.items():
            missing = [m for m in rule.measures if m not in self.curves]
            if missing:
                raise ConfigError(f"aspects.{aspect}.measures", missing, "each measure needs an entry in curves")
        for aspect, weight in self.overall_weights.items():
            if aspect not in self.aspects or not (_finite(weight) and weight >= 0):
                raise ConfigError(f"overall.weights.{aspect}", weight,
                                  "weights must be >= 0 and name an aspect defined under aspects")

    def subscores(self, measurements: Mapping[str, Any]) -> dict[str, float | None]:
        """Sub-score 0-5 (float) per curve; None where the measurement is missing or not finite."""
        return {name: curve(measurements[name]) if _finite(measurements.get(name)) else None
                for name, curve in self.curves.items()}

    def combined(self, aspect: str, subscores: Mapping[str, float | None]) -> float | None:
        """The aspect's combined sub-score before its output curve; None if none of its measures exist."""
        rule = self.aspects[aspect]
        values = [subscores[m] for m in rule.measures if subscores.get(m) is not None]
        return combine(values, rule.combine) if values else None

    def overall_raw(self, aspect_scores: Mapping[str, float | None]) -> float | None:
        """Weighted mean of the measured aspects (before the overall output curve); None if none."""
        pairs = [(aspect_scores.get(a), w) for a, w in self.overall_weights.items()]
        pairs = [(s, w) for s, w in pairs if s is not None and w > 0]
        total = sum(w for _, w in pairs)
        return sum(s * w for s, w in pairs) / total if total > 0 else None

    def score(self, measurements: Mapping[str, Any]) -> tuple[dict[str, float | None], dict[str, float | None]]:
        """Continuous 0-5 scores per aspect (plus ``overall``) and the sub-scores they came from."""
        subs = self.subscores(measurements)
        scores: dict[str, float | None] = {}
        for aspect, rule in self.aspects.items():
            raw = self.combined(aspect, subs)
            scores[aspect] = rule.output(raw) if raw is not None else None
        raw = self.overall_raw(scores)
        scores["overall"] = self.overall_output(raw) if raw is not None else None
        return scores, subs

    def fingerprint(self) -> str:
        """Short hash of the thresholds (not of ``source``/``fit_stats``), recorded with results."""
        body = self.to_dict()
        body.pop("source"), body.pop("fit_stats")
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "source": self.source,
            "curves": {k: c.to_dict() for k, c in self.curves.items()},
            "aspects": {k: {"measures": list(r.measures), "combine": r.combine, "output": r.output.to_dict()}
                        for k, r in self.aspects.items()},
            "overall": {"weights": dict(self.overall_weights), "output": self.overall_output.to_dict()},
            "fit_stats": self.fit_stats,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Inverse of :meth:`to_dict`; raises ConfigError/KeyError/TypeError on malformed input."""
        if data.get("format") != FORMAT:
            raise ConfigError("format", data.get("format"), f"expected {FORMAT!r} (a file written by Calibration.save)")
        if data.get("version") != VERSION:
            raise ConfigError("version", data.get("version"), f"this aigve reads version {VERSION}")
        curves = {k: Curve.from_dict(v) for k, v in data["curves"].items()}
        aspects = {k: AspectRule(tuple(v["measures"]), v.get("combine", "softmin"),
                                 Curve.from_dict(v["output"]) if "output" in v else IDENTITY)
                   for k, v in data["aspects"].items()}
        overall = data.get("overall", {})
        return cls(curves, aspects, {k: float(w) for k, w in overall.get("weights", {}).items()},
                   Curve.from_dict(overall["output"]) if "output" in overall else IDENTITY,
                   str(data.get("source", "")), dict(data.get("fit_stats", {})))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the calibration as JSON (UTF-8, indented) and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Calibration:
        """Read a file written by :meth:`save`. Raises InputError naming the file and the problem."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "calibration file not found; make one from a signals run and human scores with "
                                   "`aigve calibrate RESULTS HUMAN --out FILE` (in Python: "
                                   "fit_calibration(...).save(FILE))")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise InputError(path, f"not valid JSON ({exc})") from exc
        except (ConfigError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(path, f"not a signals calibration: {exc}") from exc


def default_calibration() -> Calibration:
    """The hand-set thresholds above, as a :class:`Calibration`."""
    return Calibration(
        curves={k: Curve(tuple(map(float, x)), tuple(map(float, y))) for k, (x, y) in DEFAULT_CURVES.items()},
        aspects={k: AspectRule(m, how) for k, (m, how) in DEFAULT_ASPECTS.items()},
        overall_weights=dict(DEFAULT_OVERALL_WEIGHTS),
    )


def fit_curve(x: Sequence[float], y: Sequence[float], *, increasing: bool) -> Curve:
    """Monotone least-squares fit of scores ``y`` (0-5) on measurements ``x`` (isotonic regression,
    scikit-learn), returned as the knots of the fitted step-and-ramp function."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(increasing=increasing, y_min=SCORE_MIN, y_max=SCORE_MAX, out_of_bounds="clip")
    iso.fit(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    ys = np.clip(iso.y_thresholds_, SCORE_MIN, SCORE_MAX)
    return Curve(tuple(float(v) for v in iso.X_thresholds_), tuple(float(v) for v in ys))


def _agreement(pred: Sequence[float], human: Sequence[float]) -> dict[str, float | None]:
    """Pair count, Spearman rho (None when undefined) and mean absolute error of the rounded prediction."""
    from scipy.stats import spearmanr

    p, h = np.asarray(pred, float), np.asarray(human, float)
    rho = spearmanr(p, h).statistic if np.ptp(p) > 0 and np.ptp(h) > 0 else float("nan")
    return {"n": len(p), "spearman": None if math.isnan(rho) else round(float(rho), 4),
            "mae": round(float(np.abs(np.floor(p + 0.5) - h).mean()), 4)}


def _fit_output(cal: Calibration, aspect: str, measurements: Sequence[Mapping[str, Any]],
                targets: Sequence[Mapping[str, float]], rows: Sequence[int]) -> Curve | None:
    """Fit the aspect's output curve (combined value -> human score); None if too little spread."""
    pts = [(cal.combined(aspect, cal.subscores(measurements[i])), targets[i][aspect]) for i in rows]
    pts = [(c, h) for c, h in pts if c is not None]
    if len(pts) < 2 or len({c for c, _ in pts}) < 2:
        return None
    return fit_curve([c for c, _ in pts], [h for _, h in pts], increasing=True)


def fit_calibration(measurements: Sequence[Mapping[str, Any]], human: Sequence[Mapping[str, Any]], *,
                    base: Calibration | None = None, fit_curves: bool = True, min_samples: int = 8,
                    source: str = "fitted to human scores") -> Calibration:
    """Fit the thresholds to human-scored videos, keeping every map monotone.

    ``measurements[i]``: the ``extra["measurements"]`` dict the signals backend returned for video i;
    ``human[i]``: that video's human scores, aspect keys in any accepted spelling (missing aspects are
    fine). For each of technical_quality / dynamic / consistency with at least ``min_samples`` human
    scores: when ``fit_curves``, each of its measurement curves is refit by isotonic regression against
    the aspect's human score (direction kept from ``base``); then the aspect's output curve is fit from
    the combined sub-score to the human score. ``overall`` is fit the same way when humans scored it.
    Aspects with too few scores keep ``base``'s curves. ``fit_stats[aspect]``: ``n`` (human scores),
    ``fitted``, and ``before`` / ``after`` = {``n`` (pairs with a prediction), ``spearman``, ``mae``},
    in-sample (expect them to flatter; hold out videos to judge a calibration).
    """
    base = base or default_calibration()
    if len(measurements) != len(human):
        raise ConfigError("human", f"{len(human)} rows", f"need one per measurement dict ({len(measurements)})")
    targets = []
    for row in human:
        keys = {canonical_key(k): v for k, v in row.items()}
        targets.append({k: float(v) for k, v in keys.items() if k is not None and _finite(v)})
    curves, aspects, stats = dict(base.curves), dict(base.aspects), {}
    for aspect, rule in base.aspects.items():
        rows = [i for i, t in enumerate(targets) if aspect in t]
        if len(rows) < min_samples:
            stats[aspect] = {"n": len(rows), "fitted": False, "why": f"fewer than {min_samples} human scores"}
            continue
        if fit_curves:
            for name in rule.measures:
                pts = [(measurements[i][name], targets[i][aspect]) for i in rows if _finite(measurements[i].get(name))]
                if len(pts) >= min_samples and len({x for x, _ in pts}) >= 2:
                    curves[name] = fit_curve(*zip(*pts, strict=True), increasing=base.curves[name].increasing)
        stage = replace(base, curves=curves, aspects=aspects)
        output = _fit_output(stage, aspect, measurements, targets, rows)
        aspects[aspect] = replace(rule, output=output or IDENTITY)
        stats[aspect] = {"n": len(rows), "fitted": True}
    fitted = replace(base, curves=curves, aspects=aspects, source=source)
    overall_rows = [i for i, t in enumerate(targets) if "overall" in t]
    if len(overall_rows) >= min_samples:
        pts = [(fitted.overall_raw(fitted.score(measurements[i])[0]), targets[i]["overall"]) for i in overall_rows]
        pts = [(r, h) for r, h in pts if r is not None]
        if len({r for r, _ in pts}) >= 2:
            fitted = replace(fitted, overall_output=fit_curve(*zip(*pts, strict=True), increasing=True))
        stats["overall"] = {"n": len(overall_rows), "fitted": len({r for r, _ in pts}) >= 2}
    for aspect, entry in stats.items():
        rows = [i for i, t in enumerate(targets) if aspect in t]
        for label, cal in (("before", base), ("after", fitted)):
            pairs = [(cal.score(measurements[i])[0][aspect], targets[i][aspect]) for i in rows]
            pairs = [(p, h) for p, h in pairs if p is not None]
            if pairs:
                entry[label] = _agreement(*zip(*pairs, strict=True))
    return replace(fitted, fit_stats=stats)
