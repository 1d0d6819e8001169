"""Pure statistics for comparing generators and judges (numpy only; no I/O).

Shapes: G generators, P prompts (clusters), B bootstrap replicates. A score table is given as per-prompt
sums and counts, ``sums[g, p]`` = sum of generator g's scores on prompt p's videos, ``counts[g, p]`` their
number (0 where g has no video for p), so one resample of prompts is a count vector ``w`` (P,) and the
resampled mean of g is ``(w @ sums[g]) / (w @ counts[g])`` exactly.

Definitions:

- prompt-clustered bootstrap: prompts are drawn with replacement (P of them per replicate), every video of
  a drawn prompt comes along; items within a prompt are never resampled on their own, because videos of one
  prompt share its difficulty (item-level resampling makes intervals too narrow). The same draws serve every
  generator, so ranks within one replicate are coherent.
- percentile interval: ``numpy.quantile`` (linear interpolation) at ``(1 - level) / 2`` and ``(1 + level) / 2``
  of the defined (non-NaN) replicates.
- rank: 1 = best (highest mean); ties share the average rank; rank interval: the ``lower``/``higher``
  quantiles of the replicate ranks at the same levels.
- sign-flip permutation test of the mean of paired per-prompt differences ``d`` (two-sided): with
  ``T = |mean(d)|``, p = #{sign patterns s: |mean(s * d)| >= T} / 2^n by exact enumeration when
  ``2^n <= max_exact`` (the identity pattern is among them), else ``(1 + #{|T*| >= T}) / (R + 1)`` over R
  random patterns.
- Holm step-down adjustment: sorted p ascending, ``adj_(i) = max_{j<=i} min(1, (m - j + 1) p_(j))``.
- tie-calibrated pairwise accuracy (Deutsch et al. 2023, arXiv 2305.14324, as VideoGen-RewardBench computes
  it): human label ``h`` in {1 (a preferred), -1 (b preferred), 0 (tie)}, model difference ``d = s_a - s_b``;
  with a model tie meaning ``|d| <= eps``: C (both prefer the same side), D (opposite), T_h (human tie only),
  T_m (model tie only), T_hm (both tie); ``acc(eps) = (C + T_hm) / (C + D + T_h + T_m + T_hm)``, maximised over
  eps in {0} U {distinct |d|}; the smallest maximising eps is reported.
- accuracy without ties: over pairs with ``h != 0``, ``C / (C + D + T_m)`` with T_m the exact model ties
  (``d == 0``): a model tie counts as wrong.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SeedLike = int | np.random.SeedSequence | None


def cluster_bootstrap_weights(n_clusters: int, n_boot: int, seed: SeedLike = 0) -> np.ndarray:
    """``(n_boot, n_clusters)`` float counts: how often each cluster is drawn in each replicate.

    Row b is ``bincount(rng.integers(0, P, P))`` for ``rng = numpy.random.default_rng(seed)``, drawn in one
    ``integers(0, P, size=(n_boot, P))`` call (so a test can reproduce the draws).
    """
    rng = np.random.default_rng(seed)
    if n_clusters <= 0 or n_boot <= 0:
        return np.zeros((max(n_boot, 0), max(n_clusters, 0)))
    idx = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    flat = (idx + np.arange(n_boot)[:, None] * n_clusters).ravel()
    return np.bincount(flat, minlength=n_boot * n_clusters).reshape(n_boot, n_clusters).astype(float)


def clustered_means(sums: np.ndarray, counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Resampled means ``(B, G)`` from ``sums``/``counts`` (G, P) and cluster ``weights`` (B, P);
    NaN where a replicate drew no video of that generator."""
    sums, counts = np.atleast_2d(np.asarray(sums, float)), np.atleast_2d(np.asarray(counts, float))
    num, den = weights @ sums.T, weights @ counts.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """Two-sided percentile interval of the non-NaN ``samples``; (None, None) when there are none."""
    good = np.asarray(samples, float)
    good = good[~np.isnan(good)]
    if not good.size:
        return None, None
    lo, hi = np.quantile(good, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def ranks_desc(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = highest, ties get the average rank; NaN values rank last (NaN)."""
    v = np.asarray(values, float)
    filled = np.where(np.isnan(v), -np.inf, v)
    greater = (filled[..., None, :] > filled[..., :, None]).sum(-1)
    equal = (filled[..., None, :] == filled[..., :, None]).sum(-1)
    ranks = greater + (equal + 1) / 2
    return np.where(np.isnan(v), np.nan, ranks)


def rank_interval(rank_samples: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """Interval of replicate ranks (1-D): the ``lower`` quantile at (1-level)/2, ``higher`` at (1+level)/2."""
    good = np.asarray(rank_samples, float)
    good = good[~np.isnan(good)]
    if not good.size:
        return None, None
    return (float(np.quantile(good, (1 - level) / 2, method="lower")),
            float(np.quantile(good, (1 + level) / 2, method="higher")))


@dataclass(frozen=True)
class SignFlipResult:
    """``p_value`` two-sided; ``exact``: enumerated all 2^n patterns; ``n_patterns``: patterns used."""

    n: int
    mean_diff: float | None
    p_value: float | None
    exact: bool
    n_patterns: int


def sign_flip_test(diffs: Sequence[float] | np.ndarray, *, n_perm: int = 10000, max_exact: int = 2 ** 16,
                   seed: SeedLike = 0) -> SignFlipResult:
    """Paired sign-flip permutation test of mean(diffs) == 0 (see module docstring). n = 0: p None."""
    d = np.asarray(diffs, float).ravel()
    n = int(d.size)
    if n == 0:
        return SignFlipResult(0, None, None, True, 0)
    observed = abs(float(d.mean()))
    tol = 1e-12 * max(1.0, observed)  # sums in another order differ in the last bits; equal counts as extreme
    if 2 ** n <= max_exact:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        stats = np.abs(signs @ d) / n
        return SignFlipResult(n, float(d.mean()), float(np.mean(stats >= observed - tol)), True, len(signs))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(n_perm, n))
    stats = np.abs(signs @ d) / n
    p = (1 + int(np.sum(stats >= observed - tol))) / (n_perm + 1)
    return SignFlipResult(n, float(d.mean()), float(p), False, n_perm)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values, same order as given; None entries stay None and are not counted."""
    idx = [i for i, p in enumerate(p_values) if p is not None]
    m = len(idx)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: p_values[j])):
        running = max(running, min(1.0, (m - rank) * float(p_values[i])))
        out[i] = running
    return out


def win_rate(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float | None:
    """Share of paired entries where a > b, a tie counting one half; None when empty."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not a.size:
        return None
    return float(np.mean(np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))))


# --- judges against human pairwise labels --------------------------------------------------------------


@dataclass(frozen=True)
class PairCounts:
    """Sufficient statistics of model vs human preferences at one tie threshold (see module docstring)."""

    c: int
    d: int
    t_h: int
    t_m: int
    t_hm: int

    @property
    def total(self) -> int:
        return self.c + self.d + self.t_h + self.t_m + self.t_hm


def _labels(human: Sequence[int] | np.ndarray, delta: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, m = np.asarray(human, float).ravel(), np.asarray(delta, float).ravel()
    if h.shape != m.shape:
        raise ValueError(f"human labels and model differences differ in length ({h.size} vs {m.size})")
    if not np.isin(h, (-1, 0, 1)).all():
        raise ValueError("human labels must be 1 (a preferred), -1 (b preferred) or 0 (tie)")
    if not np.isfinite(m).all():
        raise ValueError("model differences must be finite; drop unscored pairs first")
    return h, m


def pair_counts(human: Sequence[int] | np.ndarray, delta: Sequence[float] | np.ndarray, eps: float) -> PairCounts:
    """C, D, T_h, T_m, T_hm with a model tie meaning ``|delta| <= eps`` (eps < 0: no model ties)."""
    h, m = _labels(human, delta)
    mtie = np.abs(m) <= eps
    htie = h == 0
    return PairCounts(c=int(np.sum(~htie & ~mtie & (h * m > 0))), d=int(np.sum(~htie & ~mtie & (h * m < 0))),
                      t_h=int(np.sum(htie & ~mtie)), t_m=int(np.sum(~htie & mtie)), t_hm=int(np.sum(htie & mtie)))


@dataclass(frozen=True)
class TieCalibrated:
    """``accuracy`` = (C + T_hm) / all at ``epsilon`` (the smallest maximising threshold); None when empty."""

    accuracy: float | None
    epsilon: float | None
    counts: PairCounts | None


def tie_calibrated_accuracy(human: Sequence[int] | np.ndarray, delta: Sequence[float] | np.ndarray) -> TieCalibrated:
    """Accuracy with ties, maximised over the model tie threshold eps in {0} U {distinct |delta|}."""
    h, m = _labels(human, delta)
    if not h.size:
        return TieCalibrated(None, None, None)
    absd = np.abs(m)
    candidates = np.unique(np.concatenate([[0.0], absd]))
    order = np.argsort(absd, kind="stable")
    sorted_abs = absd[order]
    agree = ((h * m > 0) & (h != 0))[order].astype(int)
    both_tie = (h == 0)[order].astype(int)
    c_cum, t_cum = np.concatenate([[0], np.cumsum(agree)]), np.concatenate([[0], np.cumsum(both_tie)])
    k = np.searchsorted(sorted_abs, candidates, side="right")  # items with |d| <= eps are model ties
    correct = (c_cum[-1] - c_cum[k]) + t_cum[k]  # agreeing non-ties above eps + human ties at or below eps
    best = int(np.argmax(correct))  # argmax takes the first, i.e. the smallest eps
    eps = float(candidates[best])
    return TieCalibrated(float(correct[best] / h.size), eps, pair_counts(h, m, eps))


def accuracy_without_ties(human: Sequence[int] | np.ndarray, delta: Sequence[float] | np.ndarray) -> float | None:
    """C / (C + D + T_m) over pairs the humans did not tie; an exact model tie counts as wrong."""
    h, m = _labels(human, delta)
    keep = h != 0
    if not keep.any():
        return None
    return float(np.mean(h[keep] * m[keep] > 0))


def order_consistent_preference(forward: float, backward: float, *, tie_margin: float = 0.0) -> tuple[int, bool]:
    """Combine a judge asked both ways about one pair into (preference, consistent).

    ``forward``: the judge's margin for the first-shown video when shown (a, b); ``backward``: its margin for
    the first-shown video when shown (b, a) (so a consistent judge gives them opposite signs). Each margin
    counts as a preference only beyond ``tie_margin``. Returns 1 (a), -1 (b) or 0 (tie) and whether both orders
    agree; a preference that flips with the order is a tie and inconsistent. Two ties are a consistent tie.
    """
    def side(x: float) -> int:
        return 0 if abs(x) <= tie_margin else (1 if x > 0 else -1)

    first, second = side(forward), -side(backward)
    if first == second:
        return first, True
    return 0, False
