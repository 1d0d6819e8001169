"""Cluster (prompt) bootstrap for the agreement report, on top of :mod:`aigve.report.metrics`.

AIGVE-Bench has several generators' videos per prompt; they share the prompt's difficulty, so resampling
single items makes intervals too narrow. Here a replicate draws C clusters with replacement (C = number of
clusters) and takes every item of each drawn cluster, so a replicate's size varies with the clusters drawn.
:func:`aigve.report.metrics.resample_statistics` needs equal-length index rows, so replicates are grouped by
length and each group is computed in one call (one group when all clusters have the same size).

Draws: ``numpy.random.default_rng(seed).integers(0, C, size=(n_boot, C))``, cluster ``c`` = the c-th distinct
label in order of first appearance; replicate b is the concatenation of the members of ``draws[b]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aigve.report import metrics as M


def cluster_members(clusters: Sequence[object]) -> list[np.ndarray]:
    """Item indices of each distinct label, labels in order of first appearance."""
    order: dict[object, list[int]] = {}
    for i, c in enumerate(clusters):
        order.setdefault(c, []).append(i)
    return [np.array(v, dtype=int) for v in order.values()]


def cluster_draws(clusters: Sequence[object], n_boot: int, seed=0) -> list[np.ndarray]:
    """Item index arrays, one per replicate (lengths vary; see the module docstring)."""
    members = cluster_members(clusters)
    if not members or n_boot <= 0:
        return []
    draws = np.random.default_rng(seed).integers(0, len(members), size=(n_boot, len(members)))
    return [np.concatenate([members[c] for c in row]) for row in draws]


def clustered_statistics(h: np.ndarray, m: np.ndarray, rows: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Every statistic of :func:`aigve.report.metrics.resample_statistics` on each replicate ``rows[b]``: (B,)."""
    out: dict[str, np.ndarray] = {}
    by_len: dict[int, list[int]] = {}
    for b, r in enumerate(rows):
        by_len.setdefault(len(r), []).append(b)
    for length, bs in by_len.items():
        got = M.resample_statistics(h, m, np.stack([rows[b] for b in bs])) if length else {}
        for key in (*M.CORRELATIONS, *M.ACCURACIES):
            arr = out.setdefault(key, np.full(len(rows), np.nan))
            if key in got:
                arr[bs] = got[key]
    return out


def clustered_agreement(h: object, m: object, clusters: Sequence[object], *, n_boot: int = 1000, seed=0,
                        level: float = 0.95) -> dict[str, M.Estimate]:
    """As :func:`aigve.report.metrics.agreement`, with intervals from the cluster bootstrap."""
    h, m = M._as_pair(h, m)
    if len(clusters) != h.size:
        raise ValueError(f"one cluster label per item needed ({len(clusters)} labels for {h.size} items)")
    boot = clustered_statistics(h, m, cluster_draws(clusters, n_boot, seed)) if h.size and n_boot > 0 else {}
    out = {}
    for key, fn in M.POINT.items():
        value = fn(h, m)
        if value is None or key not in boot:
            out[key] = M.Estimate(value, n=int(h.size))
            continue
        low, high, valid = M.percentile_ci(boot[key], level)
        out[key] = M.Estimate(value, low, high, n=int(h.size), n_boot_valid=valid)
    return out


def clustered_paired_srcc_test(h: object, m_a: object, m_b: object, clusters: Sequence[object], *,
                               n_boot: int = 1000, seed=0, level: float = 0.95) -> dict[str, float | int | None]:
    """As :func:`aigve.report.metrics.paired_srcc_test` with the same cluster replicates for both systems."""
    h, m_a = M._as_pair(h, m_a)
    _, m_b = M._as_pair(h, m_b)
    out = M.paired_srcc_test(h, m_a, m_b, n_boot=0)
    if out["diff"] is None or n_boot <= 0:
        return out
    rows = cluster_draws(clusters, n_boot, seed)
    d = clustered_statistics(h, m_a, rows)["srcc"] - clustered_statistics(h, m_b, rows)["srcc"]
    d = d[~np.isnan(d)]
    low, high, valid = M.percentile_ci(d, level)
    out.update(ci_low=low, ci_high=high, n_boot_valid=valid)
    if valid:
        below = (np.sum(d <= 0) + 1) / (valid + 1)
        above = (np.sum(d >= 0) + 1) / (valid + 1)
        out["p_value"] = float(min(1.0, 2 * min(below, above)))
    return out


def mean_of_aspect_srcc(srccs: Sequence[float | None]) -> dict[str, float | int | None]:
    """Plain mean of the defined per-aspect SRCCs (not the SRCC of per-item means): value, n_aspects."""
    got = [float(v) for v in srccs if v is not None]
    return {"value": float(np.mean(got)) if got else None, "n_aspects": len(got)}
