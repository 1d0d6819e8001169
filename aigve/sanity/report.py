"""The maths of a sanity report: per check and aspect, how often the judge moved as it must.

Input is a table of pairs (one clip's original scores and its variant's scores, per check). For each check and
each of its target aspects the judge scores:

* ``n``: clips with both scores (for ``drop`` checks, clips already at the lowest score are left out and
  counted in ``at_floor``: they cannot drop);
* ``share``: the share of those clips whose change held (:meth:`Expectation.holds`), with its 95% Wilson
  score interval (scipy's ``binomtest(...).proportion_ci(method="wilson")``);
* ``mean_delta``: mean of variant - original (score points); for ``not_rise`` also ``drop_share`` (the
  share that strictly dropped: what a judge that sees direction should do); for ``equal`` also the mean
  |change| of the continuous ``expected_scores`` when the backend gives them (the spread of a sampling judge);
* ``verdict``: ``pass`` (share >= threshold and CI low > ``min_ci_low``), ``fail`` (share below threshold),
  ``inconclusive`` (share high enough but too few clips for the CI: 4 of 4 is the smallest sample that passes
  at the defaults), ``not applicable`` (the backend does not judge the aspect), ``no data`` (no clip scored),
  ``informational`` (an ``equal`` check on a backend that samples: the spread is reported, not judged).

A check's verdict: ``not applicable`` when it judges none of the check's aspects, else ``fail`` if any aspect
fails, ``inconclusive`` if any is inconclusive or without data, ``informational`` when all are, else ``pass``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from aigve.aspects import ASPECT_KEYS, SCORE_MIN
from aigve.sanity.checks import Expectation

CI_LEVEL = 0.95
WORST_EXAMPLES = 3
VERDICTS = ("pass", "fail", "inconclusive", "not applicable", "no data", "informational")


@dataclass(frozen=True)
class Pair:
    """One clip under one check. ``original``/``variant``: canonical aspect -> score (None: not scored);
    ``*_expected``: continuous expected scores when the backend gives them. ``error``: why the pair could not
    be scored (the variant could not be made, or either side failed); then the scores are empty."""

    clip: str
    check: str
    original: Mapping[str, float | None] = field(default_factory=dict)
    variant: Mapping[str, float | None] = field(default_factory=dict)
    original_expected: Mapping[str, float | None] = field(default_factory=dict)
    variant_expected: Mapping[str, float | None] = field(default_factory=dict)
    error: str | None = None
    note: str = ""

    def delta(self, aspect: str) -> float | None:
        a, b = self.original.get(aspect), self.variant.get(aspect)
        return None if a is None or b is None or self.error else float(b) - float(a)


@dataclass
class AspectStats:
    aspect: str
    verdict: str
    n: int = 0
    held: int = 0
    share: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    mean_delta: float | None = None
    drop_share: float | None = None
    at_floor: int = 0
    expected_spread: float | None = None


@dataclass
class Example:
    clip: str
    violation: float
    deltas: dict[str, float | None]
    note: str = ""


@dataclass
class CheckSummary:
    name: str
    description: str
    expectation: str
    kind: str
    group: str
    verdict: str
    aspects: list[AspectStats]
    threshold: dict[str, float]
    clips: int
    errors: list[dict[str, str]]
    worst: list[Example]
    other_mean_delta: dict[str, float | None]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson_interval(held: int, n: int, level: float = CI_LEVEL) -> tuple[float | None, float | None]:
    """The Wilson score interval of ``held`` successes in ``n`` trials; (None, None) when n is 0."""
    if n <= 0:
        return None, None
    from scipy.stats import binomtest

    ci = binomtest(int(held), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def aspect_stats(aspect: str, pairs: Sequence[Pair], expectation: Expectation, *, judged: bool,
                 samples: bool = False) -> AspectStats:
    """The figures of one aspect of one check (see the module docstring)."""
    if not judged:
        return AspectStats(aspect, "not applicable")
    deltas, at_floor = [], 0
    spreads = []
    for p in pairs:
        d = p.delta(aspect)
        if d is None:
            continue
        if expectation.kind == "drop" and p.original.get(aspect) is not None and p.original[aspect] <= SCORE_MIN:
            at_floor += 1
            continue
        deltas.append(d)
        a, b = p.original_expected.get(aspect), p.variant_expected.get(aspect)
        if a is not None and b is not None:
            spreads.append(abs(float(b) - float(a)))
    stats = AspectStats(aspect, "no data", n=len(deltas), at_floor=at_floor)
    if not deltas:
        return stats
    held = sum(expectation.holds(d) for d in deltas)
    stats.held, stats.share = held, held / len(deltas)
    stats.ci_low, stats.ci_high = wilson_interval(held, len(deltas))
    stats.mean_delta = float(np.mean(deltas))
    if expectation.kind == "not_rise":
        stats.drop_share = sum(d < 0 for d in deltas) / len(deltas)
    if expectation.kind == "equal" and spreads:
        stats.expected_spread = float(np.mean(spreads))
    stats.verdict = _verdict(stats, expectation, samples)
    return stats


def _verdict(stats: AspectStats, expectation: Expectation, samples: bool) -> str:
    if expectation.kind == "equal" and samples:
        return "informational"
    if stats.share is None:
        return "no data"
    if stats.share < expectation.share_threshold:
        return "fail"
    if stats.ci_low is None or stats.ci_low <= expectation.min_ci_low:
        return "inconclusive"
    return "pass"


def check_verdict(aspects: Sequence[AspectStats]) -> str:
    """Combine the aspect verdicts of one check (see the module docstring)."""
    verdicts = [a.verdict for a in aspects if a.verdict != "not applicable"]
    if not verdicts:
        return "not applicable"
    if "fail" in verdicts:
        return "fail"
    if "inconclusive" in verdicts or "no data" in verdicts:
        return "inconclusive"
    if all(v == "informational" for v in verdicts):
        return "informational"
    return "pass"


def worst_examples(pairs: Sequence[Pair], expectation: Expectation, aspects: Sequence[str],
                   k: int = WORST_EXAMPLES) -> list[Example]:
    """Up to ``k`` clips that broke the expectation, the largest violation first (ties: input order)."""
    found = []
    for p in pairs:
        deltas = {a: p.delta(a) for a in aspects}
        violation = max((expectation.violation(d) for a, d in deltas.items() if d is not None
                         and not (expectation.kind == "drop" and (p.original.get(a) or 0) <= SCORE_MIN)), default=0.0)
        if violation > 0:
            found.append(Example(p.clip, violation, deltas, p.note))
    found.sort(key=lambda e: -e.violation)  # stable: ties keep input order
    return found[:k]


def summarise_check(name: str, description: str, expectation: Expectation, pairs: Sequence[Pair], *,
                    judged: Sequence[str], samples: bool = False, group: str = "custom") -> CheckSummary:
    """Every figure of one check over its pairs. ``judged``: the aspects the backend scores."""
    targets = list(expectation.targets)
    stats = [aspect_stats(a, pairs, expectation, judged=a in judged, samples=samples) for a in targets]
    scored = [p for p in pairs if p.error is None]
    others = {a: _mean([p.delta(a) for p in scored]) for a in ASPECT_KEYS if a not in targets and a in judged}
    live = [a for a in targets if a in judged]
    notes = []
    if samples and expectation.kind == "equal":
        notes.append("the backend samples its answers: differences are expected; the spread is reported, not judged")
    return CheckSummary(
        name=name, description=description, expectation=expectation.describe(), kind=expectation.kind, group=group,
        verdict=check_verdict(stats), aspects=stats,
        threshold={"min_share": expectation.share_threshold, "min_ci_low": expectation.min_ci_low,
                   "ci_level": CI_LEVEL, **({"band": expectation.band} if expectation.kind == "band" else {})},
        clips=len(pairs), errors=[{"clip": p.clip, "error": p.error} for p in pairs if p.error],
        worst=worst_examples(scored, expectation, live), other_mean_delta=others, notes=notes)


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def judged_aspects(declared: Sequence[str] | None, originals: Sequence[Mapping[str, float | None]]) -> tuple[list[str], str]:
    """(aspects the backend judges, how that was known). A backend's ``describe()["scored_aspects"]`` is
    believed when given; otherwise an aspect whose score is None on every original clip counts as not judged."""
    if declared:
        return [a for a in ASPECT_KEYS if a in set(declared)], "declared by the backend (scored_aspects)"
    seen = [a for a in ASPECT_KEYS if any(o.get(a) is not None for o in originals)]
    return seen, "inferred: aspects with a score on at least one original clip (the backend declares none)"


def overall(checks: Sequence[CheckSummary]) -> dict[str, Any]:
    """Counts of check verdicts, and the names of failed and inconclusive checks."""
    counts = {v: sum(c.verdict == v for c in checks) for v in VERDICTS}
    return {"counts": {k: v for k, v in counts.items() if v},
            "failed": [c.name for c in checks if c.verdict == "fail"],
            "inconclusive": [c.name for c in checks if c.verdict == "inconclusive"],
            "not_applicable": [c.name for c in checks if c.verdict == "not applicable"]}
