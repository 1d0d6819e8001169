"""Correlation statistics shared by training (validation SRCC) and reports: Spearman, Pearson, Kendall tau-b.

Pure numpy/scipy on paired, finite 1-D vectors ``h`` (human) and ``m`` (model) of equal length n. An
undefined statistic (n < 2, a constant vector) is ``None``, never 0 and never an exception. Lives in the core
so that training and reports both import it downwards (training used to import ``aigve.report.metrics``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats


def _as_pair(h: object, m: object) -> tuple[np.ndarray, np.ndarray]:
    h = np.asarray(h, dtype=float).ravel()
    m = np.asarray(m, dtype=float).ravel()
    if h.shape != m.shape:
        raise ValueError(f"human and model vectors differ in length ({h.size} vs {m.size})")
    if not (np.isfinite(h).all() and np.isfinite(m).all()):
        raise ValueError("vectors must be finite; drop missing pairs first")
    return h, m


def is_defined(h: object, m: object) -> bool:
    """True when a correlation exists: n >= 2 and neither vector is constant."""
    h, m = _as_pair(h, m)
    return h.size >= 2 and np.ptp(h) > 0 and np.ptp(m) > 0


def _scipy_coef(fn, h: np.ndarray, m: np.ndarray) -> float | None:
    if not is_defined(h, m):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(fn(h, m)[0])
    return None if math.isnan(value) else value


def srcc(h: object, m: object) -> float | None:
    """Spearman rank correlation (scipy.stats.spearmanr); None when undefined."""
    return _scipy_coef(stats.spearmanr, *_as_pair(h, m))


def plcc(h: object, m: object) -> float | None:
    """Pearson linear correlation (scipy.stats.pearsonr); None when undefined."""
    return _scipy_coef(stats.pearsonr, *_as_pair(h, m))


def krcc(h: object, m: object) -> float | None:
    """Kendall tau-b (scipy.stats.kendalltau); None when undefined."""
    return _scipy_coef(stats.kendalltau, *_as_pair(h, m))
