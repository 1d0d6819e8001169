"""The benchmarks' official metrics as pure functions (numpy/scipy only; no I/O).

Shapes: n items; ``human`` and ``model`` are 1-D sequences of length n. Pairwise labels are ``1`` (A
preferred), ``-1`` (B preferred), ``0`` (same / tie); a judge's pairwise answer is either a score difference
``s_A - s_B`` (pointwise judges) or a label in {1, -1, 0} (pairwise judges, which answer A/B/same).

- accuracy (VideoScore-Bench-v2): share of items whose model score, rounded and clamped to the benchmark's
  scale, equals the human score; ``within-1`` (the paper's "relaxed" accuracy): |model - human| <= 1 after the
  same rounding. The rounding is Python's ``round`` (half to even: 2.5 -> 2, 3.5 -> 4), exactly what the
  VideoScore2 harness does (eval/get_acc_corr.py: ``min(5, max(1, round(x)))``).
- PLCC / SRCC: :mod:`aigve.core.correlation` (None when undefined).
- pairwise accuracy with ties, fixed margin (the VideoScore2 harness, whose numbers the README quotes): the judge's
  "same" is ``|s_A - s_B| <= t`` for a per-judge t (0 for AIGVE-MACS, 0.5 for VideoScore2), counted right only
  when humans said "same": :func:`pairwise_fixed_tie`.
- pairwise accuracy with ties, calibrated: the tie-calibrated accuracy of Deutsch et al. 2023 that VideoGen-RewardBench
  (VideoAlign, arXiv 2501.13918) reports, :func:`aigve.core.stats.tie_calibrated_accuracy`; for a judge that
  answers labels it is plain agreement over all pairs (its ties are its own, nothing to calibrate).
- pairwise accuracy without ties: over pairs humans did not tie, C / (C + D + T_m) (a model tie is wrong),
  :func:`aigve.core.stats.accuracy_without_ties`.
- joint (VideoPhy-2): share of videos with SA >= 4 and PC >= 4 (human: the benchmark's definition; here used
  as a binary label the judge's joint decision is compared with).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from aigve.core import correlation as C
from aigve.core import stats as S


def round_half_up(x: float) -> int:
    """4.5 -> 5, 4.49 -> 4 (not Python's banker's rounding)."""
    return int(math.floor(x + 0.5))


def on_scale(model: Sequence[float], low: int, high: int) -> np.ndarray:
    """Model scores rounded as the VideoScore2 harness rounds them (Python's ``round``, half to even) and clamped
    to the integer scale [low, high]."""
    return np.clip(np.array([round(float(x)) for x in model], int), low, high)


def exact_accuracy(human: Sequence[float], model: Sequence[float], low: int, high: int) -> float | None:
    """Share of items where the rounded, clamped model score equals the human score; None when empty."""
    if not len(human):
        return None
    return float(np.mean(on_scale(model, low, high) == np.asarray(human, float)))


def within_one_accuracy(human: Sequence[float], model: Sequence[float], low: int, high: int) -> float | None:
    """Share of items with |rounded model - human| <= 1; None when empty."""
    if not len(human):
        return None
    return float(np.mean(np.abs(on_scale(model, low, high) - np.asarray(human, float)) <= 1))


def plcc(human: Sequence[float], model: Sequence[float]) -> float | None:
    return C.plcc(human, model) if len(human) else None


def srcc(human: Sequence[float], model: Sequence[float]) -> float | None:
    return C.srcc(human, model) if len(human) else None


def pairwise_with_ties(human: Sequence[int], answer: Sequence[float], *, labels: bool = False) -> float | None:
    """Ties-aware pairwise accuracy. ``labels``: ``answer`` holds a pairwise judge's labels (1, -1, 0), scored
    as plain agreement; else score differences, tie-calibrated over the model's tie threshold."""
    if not len(human):
        return None
    if labels:
        return float(np.mean(np.asarray(human, int) == np.asarray(answer, int)))
    return S.tie_calibrated_accuracy(human, answer).accuracy


def pairwise_fixed_tie(human: Sequence[int], delta: Sequence[float], threshold: float) -> float | None:
    """Pairwise accuracy with ties as the VideoScore2 harness computes it (eval/get_pairwise_acc.py): the judge
    says "same" when ``|delta| <= threshold`` (its fixed, per-judge margin), else the sign of ``delta``; the share
    of pairs where that equals the human label, ties included."""
    if not len(human):
        return None
    d = np.asarray(delta, float)
    pred = np.where(np.abs(d) <= threshold, 0, np.sign(d))
    return float(np.mean(pred == np.asarray(human, float)))


def bucket_135(model: Sequence[float]) -> np.ndarray:
    """AIGVE-Bench physics has only 1, 3, 5: model scores clamped to [1, 5] and rounded, then (1, 2) -> 1,
    (3, 4) -> 3, 5 -> 5 (as the VideoScore2 harness does for aigve_bench, eval/get_acc_corr.py)."""
    s = on_scale(model, 1, 5)
    return np.where(s <= 2, 1, np.where(s <= 4, 3, 5))


def pairwise_without_ties(human: Sequence[int], answer: Sequence[float]) -> float | None:
    """Accuracy over the pairs humans did not tie; a model tie (difference 0 or label 0) counts as wrong.
    Labels and differences are read the same way (only the sign matters)."""
    if not len(human):
        return None
    return S.accuracy_without_ties(human, answer)


def joint_accuracy(human_sa: Sequence[float], human_pc: Sequence[float], model_sa: Sequence[float],
                   model_pc: Sequence[float], threshold: float = 4) -> float | None:
    """Agreement of the judge's joint decision (SA >= 4 and PC >= 4, model scores rounded half up) with the
    humans' joint label; None when empty."""
    if not len(human_sa):
        return None
    h = (np.asarray(human_sa, float) >= threshold) & (np.asarray(human_pc, float) >= threshold)
    m = (np.array([round_half_up(x) for x in model_sa]) >= threshold) & \
        (np.array([round_half_up(x) for x in model_pc]) >= threshold)
    return float(np.mean(h == m))
