"""Agreement between model and human scores: correlations, accuracies, bootstrap CIs, paired tests.

Pure numpy/scipy on 1-D float vectors ``h`` (human) and ``m`` (model) of equal length n, already paired
and free of missing values. A statistic that is mathematically undefined (n < 2, or a constant vector;
no pair with differing human scores for pairwise accuracy) is ``None`` -- never 0, never an exception.

Definitions (also written into every report):

- SRCC/PLCC/KRCC: ``scipy.stats.spearmanr`` / ``pearsonr`` / ``kendalltau`` (tau-b, ties-aware).
- exact accuracy: fraction of items with ``round(m) == round(h)``; within-1: ``|round(m) - round(h)| <= 1``.
  Rounding is half-up (``floor(x + 0.5)``), so 2.5 -> 3 (Python's ``round`` would give 2).
- pairwise accuracy: over all unordered item pairs whose *human* scores differ, the fraction whose model
  scores are ordered the same way; a model tie on such a pair counts 0.5. Pairs tied by the humans are left
  out (they carry no order to agree with).
- bootstrap: percentile bootstrap over resampled (h, m) pairs with replacement; resamples on which the
  statistic is undefined are dropped and their number reported as ``n_boot - n_boot_valid``.
- paired test: the same resample indices for both systems; two-sided p-value
  ``min(1, 2 * min((#{d* <= 0} + 1) / (B + 1), (#{d* >= 0} + 1) / (B + 1)))``.

Speed: a resample is represented by how often it draws each distinct (h, m) value pair (a B x k count
matrix; k <= 36 for integer 0-5 scores), and every statistic is computed from those counts exactly, so
1000 resamples take milliseconds rather than 1000 scipy calls. Tests check the equality with scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CORRELATIONS = ("srcc", "plcc", "krcc")
ACCURACIES = ("exact_acc", "within1_acc", "pairwise_acc")
# Kendall on resamples costs B*k^2; beyond this many distinct (h, m) pairs fall back to scipy per resample.
_KENDALL_DENSE_MAX = 3000

# moved to the core (training uses them too); re-exported for every importer of aigve.report.metrics
from aigve.core.correlation import _as_pair, _scipy_coef, is_defined, krcc, plcc, srcc  # noqa: E402,F401


def round_half_up(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves up (2.5 -> 3), as a rater would."""
    return np.floor(np.asarray(x, dtype=float) + 0.5)


def exact_accuracy(h: object, m: object) -> float | None:
    """Fraction of items whose rounded scores are equal; None for n = 0."""
    h, m = _as_pair(h, m)
    return float(np.mean(round_half_up(h) == round_half_up(m))) if h.size else None


def within_one_accuracy(h: object, m: object) -> float | None:
    """Fraction of items whose rounded scores differ by at most 1; None for n = 0."""
    h, m = _as_pair(h, m)
    return float(np.mean(np.abs(round_half_up(h) - round_half_up(m)) <= 1)) if h.size else None


def pairwise_accuracy(h: object, m: object) -> float | None:
    """Ties-aware pairwise ranking accuracy (see module docstring); None when no human pair differs."""
    h, m = _as_pair(h, m)
    total, pairs = 0.0, 0
    for start in range(0, h.size, 1024):  # row blocks keep memory at 1024 x n
        dh = np.sign(h[start:start + 1024, None] - h[None, :])
        dm = np.sign(m[start:start + 1024, None] - m[None, :])
        valid = dh != 0
        total += float(np.where(dm == dh, 1.0, np.where(dm == 0, 0.5, 0.0))[valid].sum())
        pairs += int(valid.sum())
    # every unordered pair is counted twice, symmetrically, so the ratio is unchanged
    return total / pairs if pairs else None


# --- bootstrap machinery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Categories:
    """Distinct (h, m) value pairs of the items: ``item_cat[i]`` indexes ``hv``/``mv`` (length k)."""

    hv: np.ndarray
    mv: np.ndarray
    item_cat: np.ndarray
    h_level: np.ndarray  # category -> index of its h value among the sorted distinct h values
    m_level: np.ndarray

    @classmethod
    def of(cls, h: np.ndarray, m: np.ndarray) -> _Categories:
        pairs, item_cat = np.unique(np.column_stack([h, m]), axis=0, return_inverse=True)
        hv, mv = pairs[:, 0], pairs[:, 1]
        h_level = np.unique(hv, return_inverse=True)[1]
        m_level = np.unique(mv, return_inverse=True)[1]
        return cls(hv, mv, item_cat.ravel(), h_level.ravel(), m_level.ravel())


def bootstrap_indices(n: int, n_boot: int, seed: int | np.random.SeedSequence | None = 0) -> np.ndarray:
    """``(n_boot, n)`` int array of item indices drawn with replacement (seeded, reproducible)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n)) if n else np.zeros((n_boot, 0), dtype=int)


def _row_bincount(idx: np.ndarray, k: int) -> np.ndarray:
    """Counts per row: ``out[b, c] = #{j: idx[b, j] == c}`` as float, shape (B, k)."""
    b = idx.shape[0]
    flat = (idx + np.arange(b)[:, None] * k).ravel()
    return np.bincount(flat, minlength=b * k).reshape(b, k).astype(float)


def _level_counts(w: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Sum category counts ``w`` (B, k) into value levels: (B, L)."""
    return w @ np.eye(int(level.max()) + 1)[level]


def _weighted_pearson(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of values x, y (B, k or k) weighted by counts w (B, k)."""
    n = w.sum(axis=1, keepdims=True)
    mx = (w * x).sum(axis=1, keepdims=True) / n
    my = (w * y).sum(axis=1, keepdims=True) / n
    dx, dy = x - mx, y - my
    cov = (w * dx * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt((w * dx * dx).sum(axis=1) * (w * dy * dy).sum(axis=1))


def _midranks(level_counts: np.ndarray) -> np.ndarray:
    """Average (mid) rank of each value level given its counts per row: (B, L)."""
    below = np.cumsum(level_counts, axis=1) - level_counts
    return below + (level_counts + 1) / 2


def _kendall_parts(w: np.ndarray, cats: _Categories) -> tuple[np.ndarray, np.ndarray]:
    """Per row: P - Q (concordant minus discordant pairs) and U (pairs tied in m only but not in h)."""
    sh = np.sign(cats.hv[:, None] - cats.hv[None, :])
    sm = np.sign(cats.mv[:, None] - cats.mv[None, :])
    pq = 0.5 * np.einsum("bi,ij,bj->b", w, sh * sm, w, optimize=True)
    tied_m_only = ((sm == 0) & (sh != 0)).astype(float)
    u = 0.5 * np.einsum("bi,ij,bj->b", w, tied_m_only, w, optimize=True)
    return pq, u


def resample_statistics(h: object, m: object, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Every statistic on each bootstrap resample ``h[idx[b]], m[idx[b]]``; NaN where undefined.

    Returns arrays of shape (B,) for srcc, plcc, krcc, exact_acc, within1_acc, pairwise_acc; equal to
    computing them directly (scipy) on the resampled vectors.
    """
    h, m = _as_pair(h, m)
    cats = _Categories.of(h, m)
    w = _row_bincount(cats.item_cat[idx], cats.hv.size)
    n = float(idx.shape[1])
    wh, wm = _level_counts(w, cats.h_level), _level_counts(w, cats.m_level)
    const = ((wh > 0).sum(axis=1) < 2) | ((wm > 0).sum(axis=1) < 2)
    out: dict[str, np.ndarray] = {}
    out["plcc"] = _weighted_pearson(w, cats.hv, cats.mv)
    rank_h = _midranks(wh)[:, cats.h_level]
    rank_m = _midranks(wm)[:, cats.m_level]
    out["srcc"] = _weighted_pearson(w, rank_h, rank_m)
    n0 = n * (n - 1) / 2
    n1 = 0.5 * ((wh**2).sum(axis=1) - n)  # pairs tied in h (incl. draws of the same item)
    n2 = 0.5 * ((wm**2).sum(axis=1) - n)
    if cats.hv.size <= _KENDALL_DENSE_MAX:
        pq, u = _kendall_parts(w, cats)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["krcc"] = pq / np.sqrt((n0 - n1) * (n0 - n2))
            # P = ((P - Q) + (P + Q)) / 2 and P + Q = (pairs untied in h) - U
            concordant = (pq + (n0 - n1 - u)) / 2
            out["pairwise_acc"] = np.where(n0 - n1 > 0, (concordant + 0.5 * u) / (n0 - n1), np.nan)
    else:  # many distinct values (continuous scores): O(n log n) scipy per resample beats B*k^2
        out["krcc"] = np.array([krcc(h[i], m[i]) or np.nan for i in idx], dtype=float)
        out["pairwise_acc"] = np.full(idx.shape[0], np.nan)
    for key in ("srcc", "plcc", "krcc"):
        out[key] = np.where(const, np.nan, out[key])
    rh, rm = round_half_up(cats.hv), round_half_up(cats.mv)
    out["exact_acc"] = (w @ (rh == rm).astype(float)) / n if n else np.full(idx.shape[0], np.nan)
    out["within1_acc"] = (w @ (np.abs(rh - rm) <= 1).astype(float)) / n if n else np.full(idx.shape[0], np.nan)
    return out


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None, int]:
    """Percentile interval of the defined (non-NaN) samples: (low, high, number of defined samples)."""
    good = np.asarray(samples, dtype=float)
    good = good[~np.isnan(good)]
    if good.size == 0:
        return None, None, 0
    alpha = (1 - level) / 2
    low, high = np.quantile(good, [alpha, 1 - alpha])
    return float(low), float(high), int(good.size)


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap interval. ``value`` None means undefined (then so is the CI)."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    n_boot_valid: int = 0

    def to_dict(self) -> dict[str, float | int | None]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
                "n_boot_valid": self.n_boot_valid}


POINT = {"srcc": srcc, "plcc": plcc, "krcc": krcc, "exact_acc": exact_accuracy,
         "within1_acc": within_one_accuracy, "pairwise_acc": pairwise_accuracy}


def agreement(h: object, m: object, *, n_boot: int = 1000, seed: int | np.random.SeedSequence | None = 0,
              level: float = 0.95) -> dict[str, Estimate]:
    """All six statistics for one aspect: point estimates from scipy/definitions, percentile bootstrap
    CIs from ``n_boot`` resamples (``n_boot=0``: no CIs). Keys: CORRELATIONS + ACCURACIES."""
    h, m = _as_pair(h, m)
    n = int(h.size)
    boot = resample_statistics(h, m, bootstrap_indices(n, n_boot, seed)) if n and n_boot > 0 else {}
    out: dict[str, Estimate] = {}
    for key, fn in POINT.items():
        value = fn(h, m)
        if value is None or key not in boot:
            out[key] = Estimate(value, n=n)
            continue
        low, high, valid = percentile_ci(boot[key], level)
        out[key] = Estimate(value, low, high, n=n, n_boot_valid=valid)
    return out


def paired_srcc_test(h: object, m_a: object, m_b: object, *, n_boot: int = 1000,
                     seed: int | np.random.SeedSequence | None = 0, level: float = 0.95) -> dict[str, float | int | None]:
    """Paired bootstrap test of SRCC(a) - SRCC(b) on the same items (same resample indices for both).

    Returns n, srcc_a, srcc_b, diff, ci_low, ci_high, p_value (two-sided; see module docstring),
    n_boot_valid. Everything but n is None when either SRCC is undefined.
    """
    h, m_a = _as_pair(h, m_a)
    _, m_b = _as_pair(h, m_b)
    n = int(h.size)
    a, b = srcc(h, m_a), srcc(h, m_b)
    out: dict[str, float | int | None] = {"n": n, "srcc_a": a, "srcc_b": b, "diff": None, "ci_low": None,
                                          "ci_high": None, "p_value": None, "n_boot_valid": 0}
    if a is None or b is None:
        return out
    out["diff"] = a - b
    if n_boot <= 0:
        return out
    idx = bootstrap_indices(n, n_boot, seed)
    d = resample_statistics(h, m_a, idx)["srcc"] - resample_statistics(h, m_b, idx)["srcc"]
    d = d[~np.isnan(d)]
    low, high, valid = percentile_ci(d, level)
    out.update(ci_low=low, ci_high=high, n_boot_valid=valid)
    if valid:
        out["p_value"] = bootstrap_p_value(d)
    return out


def bootstrap_p_value(d: np.ndarray) -> float | None:
    """Two-sided bootstrap p-value of "the difference is 0" from the B defined resampled differences ``d``:
    ``min(1, 2 * min((#{d <= 0} + 1) / (B + 1), (#{d >= 0} + 1) / (B + 1)))``. The +1 counts the observed
    data as one of the resamples, so p is never 0 (a p of 0 would claim certainty B resamples cannot give)."""
    d = np.asarray(d, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return None
    below = (np.sum(d <= 0) + 1) / (d.size + 1)
    above = (np.sum(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2 * min(below, above)))
