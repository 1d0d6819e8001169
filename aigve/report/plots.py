"""Report figures as PNG files (matplotlib, headless Agg backend).

Each function writes one PNG and returns its path: per-aspect human-vs-model scatter with jitter,
SRCC with bootstrap CI bars per aspect and system, and human vs model score histograms.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aigve.aspects import BY_KEY, SCORE_MAX, SCORE_MIN

JITTER = 0.15  # score units; integer scores would otherwise stack on a 6 x 6 grid of dots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display on servers / CI; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def _label(aspect: str) -> str:
    return BY_KEY[aspect].label if aspect in BY_KEY else "Mean of aspects"


def _grid(n: int, ncols: int = 3, size: float = 3.2):
    plt = _pyplot()
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return plt, fig, axes.ravel()


def _save(plt, fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def scatter(vectors: dict[str, tuple[Any, np.ndarray, np.ndarray]], srcc: dict[str, float | None],
            path: str | os.PathLike, *, title: str, seed: int = 0) -> Path:
    """Human (x) vs model (y) per aspect, both jittered uniformly by +-JITTER; panel titles give SRCC, n."""
    plt, fig, axes = _grid(len(vectors))
    rng = np.random.default_rng(seed)
    for ax, (aspect, (_, h, m)) in zip(axes, vectors.items(), strict=False):  # spare axes stay hidden
        ax.scatter(h + rng.uniform(-JITTER, JITTER, h.size), m + rng.uniform(-JITTER, JITTER, m.size),
                   s=10, alpha=0.5, edgecolors="none")
        both = np.concatenate([h, m, [SCORE_MIN, SCORE_MAX]])  # widen for scores outside 0-5 (other scales)
        lo, hi = float(both.min()) - 0.5, float(both.max()) + 0.5
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        value = srcc.get(aspect)
        ax.set_title(f"{_label(aspect)}\nSRCC {'undefined' if value is None else f'{value:.3f}'}, n={h.size}",
                     fontsize=9)
        ax.set_xlabel("human score", fontsize=8)
        ax.set_ylabel("model score", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(plt, fig, path)


def srcc_bars(agreement: dict[str, dict[str, dict[str, Any]]], aspects: Sequence[str],
              path: str | os.PathLike, *, stat: str = "srcc") -> Path:
    """Grouped bars: one group per aspect, one bar per system, bootstrap CI as error bars.
    Undefined values get no bar and an "undef." mark at 0."""
    plt = _pyplot()
    systems = list(agreement)
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(aspects) * max(1, len(systems)) ** 0.5), 3.8))
    x = np.arange(len(aspects))
    for i, name in enumerate(systems):
        pos = x - 0.4 + width * (i + 0.5)
        for j, aspect in enumerate(aspects):
            est = agreement[name].get(aspect, {}).get(stat, {})
            value = est.get("value")
            if value is None:
                ax.text(pos[j], 0.02, "undef.", rotation=90, fontsize=7, ha="center", va="bottom")
                continue
            err = None
            if est.get("ci_low") is not None:
                err = [[max(0.0, value - est["ci_low"])], [max(0.0, est["ci_high"] - value)]]
            ax.bar(pos[j], value, width, yerr=err, capsize=2, color=f"C{i}", label=name if j == 0 else None)
        ax.bar(np.nan, np.nan, width, color=f"C{i}", label=name)  # a legend entry even if all undefined
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, [_label(a) for a in aspects], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"{stat.upper()} (95% CI)")
    ax.set_ylim(min(-0.1, ax.get_ylim()[0]), 1.0)
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    ax.legend(seen.values(), seen.keys(), fontsize=8)
    return _save(plt, fig, path)


def histograms(series: dict[str, dict[str, np.ndarray]], path: str | os.PathLike, *, title: str) -> Path:
    """Per aspect, side-by-side bars of the score counts of each series (e.g. {"human": ..., "model": ...})."""
    aspects = list(next(iter(series.values()))) if series else []
    plt, fig, axes = _grid(len(aspects))
    bins = np.arange(SCORE_MIN, SCORE_MAX + 1)
    width = 0.8 / max(1, len(series))
    for ax, aspect in zip(axes, aspects, strict=False):
        for i, (label, by_aspect) in enumerate(series.items()):
            v = np.floor(np.asarray(by_aspect[aspect], dtype=float) + 0.5)
            counts = [int(np.sum(v == b)) for b in bins]
            ax.bar(bins - 0.4 + width * (i + 0.5), counts, width, label=f"{label} (n={v.size})", color=f"C{i}")
        ax.set_xticks(bins)
        ax.set_title(_label(aspect), fontsize=9)
        ax.set_xlabel("score (rounded)", fontsize=8)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(plt, fig, path)
