"""Joined score tables -> the report's numbers (a JSON-ready dict) and the vectors the plots need."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aigve.annotations import Annotation, rated_aspects
from aigve.aspects import ASPECT_KEYS, SCORE_MAX, SCORE_MIN
from aigve.report import metrics as M
from aigve.report.inputs import Joined, ScoreFile, item_value, join, na_value

MEAN = "mean"
DEFINITIONS = {
    "srcc": "Spearman rank correlation (scipy.stats.spearmanr)",
    "plcc": "Pearson linear correlation (scipy.stats.pearsonr)",
    "krcc": "Kendall tau-b (scipy.stats.kendalltau, ties-aware)",
    "exact_acc": "fraction of items with round(model) == round(human); half-up rounding",
    "within1_acc": "fraction of items with |round(model) - round(human)| <= 1",
    "pairwise_acc": ("over item pairs whose human scores differ, the fraction the model orders the same way; "
                     "a model tie counts 0.5; pairs tied by humans are left out"),
    "ci": ("percentile bootstrap over resampled (human, model) pairs; resamples where the statistic is "
           "undefined are dropped (n_boot_valid)"),
    "undefined": "n < 2 or a constant vector (no pair with differing human scores for pairwise_acc)",
    "not computed": ("a comment measure that did not run (option off, or its package not installed; "
                     "see the notes); null in metrics.json with the reason in comments.not_computed"),
    "mean": ("per item, the mean over the aspects that both human and model scored for that item, "
             "compared with the human mean over the same aspects"),
    "paired_test": ("SRCC(a) - SRCC(b) on the items both systems scored (for the mean: over the aspects "
                    "both systems score), same bootstrap resamples for both; "
                    "two-sided p = min(1, 2*min((#d*<=0 + 1)/(B+1), (#d*>=0 + 1)/(B+1)))"),
    "zero_as_na": "a 0 on action_presence/action_quality means 'no action': with zero_as_na it is left out",
    "cluster_by": ("with a cluster column (default: prompt, when the human file has prompts), every bootstrap "
                   "resamples clusters (all items of a drawn prompt together) instead of single items"),
    "mean_of_aspect_srcc": "plain mean of the per-aspect SRCCs (a different number from the SRCC of per-item means)",
}


def _seed(seed: int, *parts: str) -> np.random.SeedSequence:
    """A reproducible seed per (aspect, group...) so adding a system never changes another's CIs."""
    return np.random.SeedSequence([int(seed), *(zlib.crc32(p.encode()) for p in parts)])


@dataclass
class Computed:
    """``metrics``: everything written to metrics.json. ``vectors[system][aspect] = (ids, h, m)``."""

    metrics: dict[str, Any]
    vectors: dict[str, dict[str, tuple[list[str], np.ndarray, np.ndarray]]] = field(default_factory=dict)
    model_only: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def paired_values(joined: Joined, aspect: str, aspects: Sequence[str], zero_as_na: bool
                  ) -> dict[str, tuple[float, float]]:
    """``{annotation id: (human, model)}`` for items where both have a usable ``aspect`` score
    (``aspect == "mean"``: the per-item mean over ``aspects`` both scored)."""
    out: dict[str, tuple[float, float]] = {}
    for ann, rec in joined.pairs:
        keys = aspects if aspect == MEAN else [aspect]
        hs, ms = [], []
        for key in keys:
            h = na_value(key, ann.scores.get(key), zero_as_na)
            m = na_value(key, rec.scores.get(key), zero_as_na)
            if h is not None and m is not None:
                hs.append(float(h))
                ms.append(float(m))
        if hs:
            out[ann.id] = (sum(hs) / len(hs), sum(ms) / len(ms))
    return out


def _vectors(values: dict[str, tuple[float, float]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    ids = list(values)
    h = np.array([values[i][0] for i in ids], dtype=float)
    m = np.array([values[i][1] for i in ids], dtype=float)
    return ids, h, m


def _agreement_dict(h: np.ndarray, m: np.ndarray, n_boot: int, seed: np.random.SeedSequence, level: float,
                    clusters: Sequence[Any] | None = None) -> dict[str, Any]:
    if clusters is not None:
        from aigve.report.clustered import clustered_agreement

        est = clustered_agreement(h, m, clusters, n_boot=n_boot, seed=seed, level=level)
    else:
        est = M.agreement(h, m, n_boot=n_boot, seed=seed, level=level)
    return {k: e.to_dict() for k, e in est.items()}


def cluster_labels(joined: Joined, column: str | None) -> dict[str, Any] | None:
    """``{annotation id: cluster}`` from ``column`` (an item without a value is its own cluster); None: off."""
    if not column:
        return None
    return {ann.id: item_value(ann, rec, column) or ("(item)", ann.id) for ann, rec in joined.pairs}


def _of(cmap: dict[str, Any] | None, ids: Sequence[str]) -> list[Any] | None:
    return None if cmap is None else [cmap[i] for i in ids]


def distribution(values: Sequence[float]) -> dict[str, Any]:
    """Counts of rounded scores 0-5 (plus out-of-range), mean and n of one score vector."""
    v = np.asarray(values, dtype=float)
    r = M.round_half_up(v)
    counts = {str(s): int(np.sum(r == s)) for s in range(SCORE_MIN, SCORE_MAX + 1)}
    other = int(np.sum((r < SCORE_MIN) | (r > SCORE_MAX)))
    if other:
        counts["other"] = other
    return {"n": int(v.size), "mean": float(v.mean()) if v.size else None, "counts": counts}


def system_summary(system: ScoreFile, joined: Joined | None) -> dict[str, Any]:
    out = {"name": system.name, "path": system.shown_path, "n_records": len(system.records),
           "n_errors": system.n_errors, "n_parse_failures": system.n_parse_failures,
           "backends": system.backends, "disclaimer": system.disclaimer, "aspects": system.aspects,
           "skipped_lines": system.skipped_lines}
    if joined is not None:
        out.update(n_matched=len(joined.pairs), unmatched_scores=joined.unmatched_scores,
                   unmatched_human=joined.unmatched_human)
    return out


def input_notes(systems: Sequence[ScoreFile]) -> list[str]:
    """Report notes about the score files themselves: lines left out because a run was cut off mid-write."""
    notes = []
    for s in systems:
        if s.skipped_lines:
            n = len(s.skipped_lines)
            notes.append(f"{s.shown_path}: last line is incomplete (interrupted run?); {n} line{'s' if n > 1 else ''} "
                         f"skipped (line {', '.join(map(str, s.skipped_lines))})")
        partial = [r.id for r in s.records if r.extra.get("status") == "partial"]
        if partial:  # so a shrinking n per aspect is explained, never silent
            notes.append(f"{s.shown_path}: {len(partial)} of {len(s.records)} records are partial (some judged aspect "
                         f"missing, or the video only partly decodable), e.g. {', '.join(partial[:5])}; each aspect's "
                         f"n counts only the records that scored it")
    return notes


def _groups(joined: Joined, column: str) -> dict[str, Joined]:
    buckets: dict[str, list] = {}
    for ann, rec in joined.pairs:
        value = item_value(ann, rec, column)
        buckets.setdefault("(none)" if value in (None, "") else str(value), []).append((ann, rec))
    return {g: Joined(joined.system, pairs, [], []) for g, pairs in sorted(buckets.items())}


def compute(systems: Sequence[ScoreFile], annotations: Sequence[Annotation] | None, *,
            group_by: str | None = None, n_boot: int = 1000, seed: int = 0, zero_as_na: bool = False,
            level: float = 0.95, embeddings: bool = True, cluster_by: str | None = None) -> Computed:
    """All report numbers for ``systems`` against ``annotations`` (None: model-only distributions).
    ``cluster_by``: column whose values are the bootstrap's clusters (e.g. prompt); None: item bootstrap."""
    settings = {"bootstrap": n_boot, "seed": seed, "ci_level": level, "zero_as_na": zero_as_na,
                "group_by": group_by, "embeddings": embeddings, "cluster_by": cluster_by}
    metrics: dict[str, Any] = {"settings": settings, "definitions": DEFINITIONS, "notes": input_notes(systems)}
    if not annotations:
        return _model_only(systems, metrics, zero_as_na)
    aspects = rated_aspects(list(annotations))
    report_aspects = [*aspects, MEAN]
    joins = {s.name: join(s, annotations) for s in systems}
    metrics.update(aspects=report_aspects, human={"n_items": len(annotations), "aspects": aspects},
                   systems=[system_summary(s, joins[s.name]) for s in systems])
    computed = Computed(metrics)
    agreement, dists, mean_srcc = {}, {}, {}
    for s in systems:
        agreement[s.name], dists[s.name], computed.vectors[s.name] = {}, {}, {}
        cmap = cluster_labels(joins[s.name], cluster_by)
        for aspect in report_aspects:
            ids, h, m = _vectors(paired_values(joins[s.name], aspect, aspects, zero_as_na))
            computed.vectors[s.name][aspect] = (ids, h, m)
            agreement[s.name][aspect] = _agreement_dict(h, m, n_boot, _seed(seed, aspect), level, _of(cmap, ids))
            dists[s.name][aspect] = {"human": distribution(h), "model": distribution(m)}
        if not joins[s.name].pairs:
            metrics["notes"].append(f"{s.name}: no item matched the human file (ids or video names differ)")
        from aigve.report.clustered import mean_of_aspect_srcc

        mean_srcc[s.name] = mean_of_aspect_srcc([agreement[s.name][a]["srcc"]["value"] for a in aspects])
    metrics.update(agreement=agreement, distributions=dists, mean_of_aspect_srcc=mean_srcc)
    metrics["comparisons"] = _comparisons(systems, joins, report_aspects, aspects, n_boot, seed, zero_as_na, level,
                                          cluster_by)
    if group_by:
        metrics["groups"] = {"column": group_by, "by_system": {
            s.name: {g: {a: _group_agreement(j, a, aspects, zero_as_na, n_boot, _seed(seed, a, g), level, cluster_by)
                         for a in report_aspects}
                     for g, j in _groups(joins[s.name], group_by).items()} for s in systems}}
        if all(set(v) <= {"(none)"} for v in metrics["groups"]["by_system"].values()):
            metrics["notes"].append(f"no matched item has a value for the group column {group_by!r}")
    metrics["comments"] = _comments(systems, joins, embeddings)
    return computed


def _group_agreement(joined, aspect, aspects, zero_as_na, n_boot, seed, level, cluster_by) -> dict[str, Any]:
    ids, h, m = _vectors(paired_values(joined, aspect, aspects, zero_as_na))
    return _agreement_dict(h, m, n_boot, seed, level, _of(cluster_labels(joined, cluster_by), ids))


def _comparisons(systems, joins, report_aspects, aspects, n_boot, seed, zero_as_na, level,
                 cluster_by=None) -> list[dict[str, Any]]:
    out = []
    for a, b in itertools.combinations(systems, 2):
        # The mean must average the same aspects for both systems, and the test needs one human vector:
        # without this, a system scoring 4 aspects was compared with the human mean over another's 9.
        shared = [k for k in aspects if k in a.aspects and k in b.aspects]
        for aspect in report_aspects:
            va = paired_values(joins[a.name], aspect, shared, zero_as_na)
            vb = paired_values(joins[b.name], aspect, shared, zero_as_na)
            common = [i for i in va if i in vb and va[i][0] == vb[i][0]]
            h = np.array([va[i][0] for i in common])
            cmap = cluster_labels(joins[a.name], cluster_by)
            if cmap is not None:
                from aigve.report.clustered import clustered_paired_srcc_test

                test = clustered_paired_srcc_test(h, [va[i][1] for i in common], [vb[i][1] for i in common],
                                                  _of(cmap, common), n_boot=n_boot,
                                                  seed=_seed(seed, "paired", aspect), level=level)
            else:
                test = M.paired_srcc_test(h, [va[i][1] for i in common], [vb[i][1] for i in common],
                                          n_boot=n_boot, seed=_seed(seed, "paired", aspect), level=level)
            out.append({"a": a.name, "b": b.name, "aspect": aspect, **test})
    return out


def _comments(systems, joins, embeddings) -> dict[str, Any]:
    from aigve.report.comments import LABELS, comment_quality

    by_system, notes, not_computed = {}, [], {}
    has_refs = any(ann.comments for j in joins.values() for ann, _ in j.pairs)
    if not has_refs:
        return {"labels": LABELS, "by_system": {}, "notes": ["no human reference comments in the human file"],
                "not_computed": {}}
    for s in systems:
        pairs: dict[str, list[tuple[str, str]]] = {}
        for ann, rec in joins[s.name].pairs:
            for key in ASPECT_KEYS:
                # An aspect the system left unscored carries a placeholder comment (signals: "Not scored:
                # ... needs a vision-language backend"), not an assessment: it is not compared.
                if ann.comments.get(key) and rec.comments.get(key) and rec.scores.get(key) is not None:
                    pairs.setdefault(key, []).append((rec.comments[key], ann.comments[key]))
        if not pairs:
            notes.append(f"{s.name}: no model comments paired with human comments")
            continue
        by_system[s.name], more, skipped = comment_quality(pairs, embeddings=embeddings)
        notes.extend(n for n in more if n not in notes)
        not_computed.update(skipped)
    # not_computed: {measure: why} for measures left null on purpose (not "undefined": they never ran)
    return {"labels": LABELS, "by_system": by_system, "notes": notes, "not_computed": not_computed}


def _model_only(systems: Sequence[ScoreFile], metrics: dict[str, Any], zero_as_na: bool) -> Computed:
    aspects = [k for k in ASPECT_KEYS if any(k in s.aspects for s in systems)]
    metrics.update(aspects=aspects, human=None, systems=[system_summary(s, None) for s in systems])
    metrics["notes"].append("no human file: score distributions only")
    computed = Computed(metrics)
    dists = {}
    for s in systems:
        dists[s.name], computed.model_only[s.name] = {}, {}
        for aspect in aspects:
            values = [na_value(aspect, r.scores.get(aspect), zero_as_na) for r in s.records]
            v = np.array([x for x in values if x is not None], dtype=float)
            computed.model_only[s.name][aspect] = v
            dists[s.name][aspect] = {"model": distribution(v)}
    metrics["distributions"] = dists
    return computed
