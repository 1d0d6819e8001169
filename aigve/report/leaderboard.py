"""Generator leaderboard: per generator and aspect a mean with a prompt-clustered bootstrap CI, a rank with
a rank interval, and head-to-head win rates with a paired sign-flip test, Holm-corrected across pairs.

    from aigve.report.leaderboard import build_leaderboard
    lb = build_leaderboard(["runs/a/results.jsonl"], "runs/leaderboard", by="generator")
    lb.data["table"]["overall"]["cogvideox"]  # {"mean", "ci_low", "ci_high", "rank", "rank_low", ...}

All statistics are :mod:`aigve.core.stats`; this module arranges the score table and the wording. One set
of prompt resamples serves every generator and aspect, so a replicate's ranks are coherent.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aigve.aspects import BY_KEY
from aigve.core import stats as S
from aigve.core.validate import fraction, positive_int
from aigve.report.lb_data import Item, choose_score_kind, load_items, shared_aspects, values_of

log = logging.getLogger(__name__)

MEAN = "mean"
ALPHA = 0.05
DEFINITIONS = {
    "mean": "mean score over the generator's successfully scored videos",
    "mean of aspects": "per video, the mean over the aspects every generator is scored on; then averaged",
    "ci": ("prompt-clustered percentile bootstrap: prompts are resampled with replacement and every video of a "
           "drawn prompt comes along (videos of one prompt are not independent)"),
    "rank": "1 = highest mean; rank interval: 2.5%/97.5% quantiles of the ranks over the same bootstrap replicates",
    "win rate": ("on prompts both generators have, per-prompt mean of A vs of B: share of prompts A is higher "
                 "(ties count one half)"),
    "p": ("two-sided sign-flip permutation test of the mean per-prompt difference (exact enumeration up to 16 "
          "prompts, else 10000 random sign patterns with the +1 correction); Holm-corrected across the pairs "
          "of each aspect"),
    "indistinguishable": f"Holm-corrected p >= {ALPHA}",
}


def label(aspect: str) -> str:
    return BY_KEY[aspect].label if aspect in BY_KEY else "Mean of aspects"


def item_value(item: Item, aspect: str, aspects: Sequence[str], kind: str) -> float | None:
    """The item's score on ``aspect`` (``mean``: over all ``aspects``, None unless it has every one)."""
    values = values_of(item, kind)
    if aspect != MEAN:
        return values.get(aspect)
    got = [values[a] for a in aspects if a in values]
    return float(np.mean(got)) if got and len(got) == len(aspects) else None


@dataclass(frozen=True)
class Table:
    """``sums``/``counts`` (G, P) of one aspect's scores per generator and prompt (see aigve.core.stats)."""

    sums: np.ndarray
    counts: np.ndarray

    def prompt_means(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.sums / np.where(self.counts > 0, self.counts, 1), np.nan)


def score_table(items: Sequence[Item], generators: Sequence[str], prompts: Sequence[str], aspect: str,
                aspects: Sequence[str], kind: str) -> Table:
    g_index = {g: i for i, g in enumerate(generators)}
    p_index = {p: i for i, p in enumerate(prompts)}
    sums = np.zeros((len(generators), len(prompts)))
    counts = np.zeros_like(sums)
    for item in items:
        value = None if item.error else item_value(item, aspect, aspects, kind)
        if value is not None:
            sums[g_index[item.generator], p_index[item.prompt]] += value
            counts[g_index[item.generator], p_index[item.prompt]] += 1
    return Table(sums, counts)


def _ranking(table: Table, generators: Sequence[str], weights: np.ndarray, level: float) -> dict[str, Any]:
    point = S.clustered_means(table.sums, table.counts, np.ones((1, table.sums.shape[1])))[0]
    boot = S.clustered_means(table.sums, table.counts, weights) if weights.size else np.zeros((0, len(generators)))
    ranks = S.ranks_desc(point)
    boot_ranks = S.ranks_desc(boot) if boot.size else boot
    out = {}
    for g, name in enumerate(generators):
        lo, hi = S.percentile_interval(boot[:, g], level) if boot.size else (None, None)
        rlo, rhi = S.rank_interval(boot_ranks[:, g], level) if boot.size else (None, None)
        mean = None if np.isnan(point[g]) else float(point[g])
        out[name] = {"mean": mean, "ci_low": lo, "ci_high": hi,
                     "rank": None if mean is None else float(ranks[g]), "rank_low": rlo, "rank_high": rhi,
                     "n": int(table.counts[g].sum()), "n_prompts": int((table.counts[g] > 0).sum())}
    return out


def _pairs(table: Table, generators: Sequence[str], seed: int) -> list[dict[str, Any]]:
    means = table.prompt_means()
    rows = []
    for a, b in itertools.combinations(range(len(generators)), 2):
        shared = ~np.isnan(means[a]) & ~np.isnan(means[b])
        da, db = means[a][shared], means[b][shared]
        test = S.sign_flip_test(da - db, seed=seed)
        rows.append({"a": generators[a], "b": generators[b], "n_shared_prompts": int(shared.sum()),
                     "win_rate_a": S.win_rate(da, db), "mean_diff": test.mean_diff, "p_value": test.p_value,
                     "exact": test.exact})
    for row, adj in zip(rows, S.holm([r["p_value"] for r in rows]), strict=True):
        row["p_holm"] = adj
        # None: not compared at all (no shared prompt), which is not the same as "indistinguishable"
        row["indistinguishable"] = None if adj is None else adj >= ALPHA
    return rows


def _generator_summary(items: Sequence[Item], generators: Sequence[str], aspects: Sequence[str]) -> list[dict]:
    out = []
    for g in generators:
        mine = [i for i in items if i.generator == g]
        ok = [i for i in mine if i.error is None]
        out.append({"name": g, "n_videos": len(mine), "n_failures": len(mine) - len(ok),
                    "n_partial": sum(not set(aspects) <= set(i.scores) for i in ok),
                    "n_prompts": len({i.prompt for i in ok}), "sources": sorted({i.source for i in mine})})
    return out


def _prompt_notes(items: Sequence[Item], generators: Sequence[str]) -> list[str]:
    sets = {g: {i.prompt for i in items if i.generator == g and i.error is None} for g in generators}
    union = set().union(*sets.values()) if sets else set()
    if all(s == union for s in sets.values()):
        return []
    notes = ["generators were scored on different prompt sets: head-to-head comparisons use the prompts both "
             "generators share (the intersection) only; means and ranks use each generator's own prompts"]
    for a, b in itertools.combinations(generators, 2):
        if sets[a] != sets[b]:
            notes.append(f"{a} vs {b}: {len(sets[a] & sets[b])} shared prompts ({a}: {len(sets[a])}, "
                         f"{b}: {len(sets[b])})")
    return notes


def compute_leaderboard(items: Sequence[Item], *, score_kind: str = "auto", n_boot: int = 1000, seed: int = 0,
                        level: float = 0.95) -> dict[str, Any]:
    """Everything the leaderboard shows, JSON-ready (see the module docstring and DEFINITIONS)."""
    n_boot = 0 if n_boot == 0 else positive_int("n_boot", n_boot)
    level = fraction("level", level)
    kind = choose_score_kind(items, score_kind)
    generators = sorted({i.generator for i in items})
    prompts = sorted({i.prompt for i in items})
    aspects = shared_aspects(items, generators)
    report_aspects = [*aspects, MEAN] if len(aspects) > 1 else list(aspects)
    weights = S.cluster_bootstrap_weights(len(prompts), n_boot, np.random.SeedSequence([seed, 1]))
    notes = _prompt_notes(items, generators)
    notes.append(f"ranked on {kind} scores" + (" (the judge's digit-probability expected scores)"
                                               if kind == "expected" else " (the judge's written 0-5 scores)"))
    ok = [i for i in items if i.error is None and i.scores]
    with_exp = sum(set(i.scores) <= set(i.expected) for i in ok)
    if kind == "integer" and 0 < with_exp < len(ok):
        notes.append(f"expected scores exist for only {with_exp} of {len(ok)} scored videos: all are ranked on "
                     "integer scores so that every generator is measured the same way")
    if len(generators) < 2:
        notes.append("only one generator: nothing to compare (use --by or NAME=results.jsonl per generator)")
    table, pairs, lines = {}, {}, []
    for aspect in report_aspects:
        t = score_table(items, generators, prompts, aspect, aspects, kind)
        table[aspect] = _ranking(t, generators, weights, level)
        pairs[aspect] = _pairs(t, generators, seed)
        for row in pairs[aspect]:
            if row["indistinguishable"] is None:
                lines.append(f"{label(aspect)}: {row['a']} and {row['b']} were not compared (no shared prompt)")
            elif row["indistinguishable"]:
                p = "n/a" if row["p_holm"] is None else f"{row['p_holm']:.3f}"
                lines.append(f"{label(aspect)}: {row['a']} and {row['b']} are statistically indistinguishable "
                             f"(Holm-corrected p = {p}, {row['n_shared_prompts']} shared prompts)")
    return {"settings": {"score_kind": kind, "score_kind_requested": score_kind, "bootstrap": n_boot, "seed": seed,
                         "ci_level": level, "cluster_by": "prompt", "alpha": ALPHA},
            "definitions": DEFINITIONS, "generators": _generator_summary(items, generators, aspects),
            "aspects": report_aspects, "n_prompts": len(prompts), "notes": notes, "table": table,
            "pairs": pairs, "indistinguishable": lines}


@dataclass(frozen=True)
class Leaderboard:
    data: dict[str, Any]
    files: dict[str, Path]


def build_leaderboard(results: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *, by: str = "generator",
                      score_kind: str = "auto", n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                      examples: int = 0, examples_aspect: str | None = None,
                      examples_pair: tuple[str, str] | None = None, plots: bool = True,
                      title: str = "aigve leaderboard", frames_under: Sequence[Path] | None = None) -> Leaderboard:
    """Load ``results``, compute, and write leaderboard.md/.html/.json/.csv (+ plots, + examples) to ``out_dir``.
    ``frames_under``: example thumbnails only for videos inside these folders (None: any readable file)."""
    from aigve.report import lb_render

    items = load_items(results, by=by)
    data = compute_leaderboard(items, score_kind=score_kind, n_boot=n_boot, seed=seed, level=level)
    data["settings"]["by"] = by
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if examples:
        from aigve.report.lb_examples import find_examples

        data["examples"] = find_examples(items, data, out, k=positive_int("examples", examples),
                                         aspect=examples_aspect, pair=examples_pair, frames_under=frames_under)
    data["plots"] = lb_render.write_plots(data, out) if plots else {}
    files = lb_render.write_all(data, out, title=title)
    return Leaderboard(data, files)
