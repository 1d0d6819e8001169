"""Leaderboard document (Markdown, self-contained HTML, JSON, long CSV) and its PNG plots.

leaderboard.csv columns: section (ranking, pair), aspect, generator, other (second generator of a pair),
mean, ci_low, ci_high, rank, rank_low, rank_high, n, n_prompts, win_rate, mean_diff, p_value, p_holm.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from aigve.report.blocks import Block, num
from aigve.report.leaderboard import DEFINITIONS, label
from aigve.report.render import to_html, to_markdown, write_json

CSV_COLUMNS = ("section", "aspect", "generator", "other", "mean", "ci_low", "ci_high", "rank", "rank_low",
               "rank_high", "n", "n_prompts", "win_rate", "mean_diff", "p_value", "p_holm")


def _ci(row: dict[str, Any]) -> str:
    if row["mean"] is None:
        return "undefined"
    if row["ci_low"] is None:
        return num(row["mean"])
    return f"{num(row['mean'])} [{num(row['ci_low'])}, {num(row['ci_high'])}]"


def _rank(row: dict[str, Any]) -> str:
    if row["rank"] is None:
        return "undefined"
    r = f"{row['rank']:g}"
    return r if row["rank_low"] is None else f"{r} [{row['rank_low']:g}, {row['rank_high']:g}]"


def _ranking_blocks(data: dict[str, Any]) -> list[Block]:
    out = []
    for aspect in data["aspects"]:
        rows = sorted(data["table"][aspect].items(), key=lambda kv: (kv[1]["rank"] is None, kv[1]["rank"] or 0, kv[0]))
        out.append(Block("h", label(aspect), level=3))
        out.append(Block("table", headers=["generator", "mean [95% CI]", "rank [95% interval]", "videos", "prompts"],
                         rows=[[g, _ci(r), _rank(r), str(r["n"]), str(r["n_prompts"])] for g, r in rows]))
    return out


def _verdict(p: dict[str, Any]) -> str:
    if p["indistinguishable"] is None:
        return "not compared (no shared prompt)"
    if p["indistinguishable"]:
        return "indistinguishable"
    return (p["a"] if p["mean_diff"] > 0 else p["b"]) + " better"


def _pair_blocks(data: dict[str, Any]) -> list[Block]:
    out = []
    for aspect in data["aspects"]:
        pairs = data["pairs"][aspect]
        if not pairs:
            continue
        out.append(Block("h", label(aspect), level=3))
        out.append(Block("table", headers=["A", "B", "shared prompts", "A wins", "mean A - B", "p", "p (Holm)",
                                           "verdict"],
                         rows=[[p["a"], p["b"], str(p["n_shared_prompts"]), num(p["win_rate_a"]), num(p["mean_diff"]),
                                num(p["p_value"]), num(p["p_holm"]),
                                _verdict(p)] for p in pairs]))
    return out


def _example_blocks(data: dict[str, Any]) -> list[Block]:
    ex = data.get("examples")
    if not ex:
        return []
    out = [Block("h", f"Where {ex['a']} and {ex['b']} differ most ({label(ex['aspect'])})"),
           Block("p", "The shared prompts with the largest score difference; frames: first, middle, last "
                      f"(top row {ex['a']}, bottom row {ex['b']}).")]
    for n, e in enumerate(ex["items"], 1):
        out.append(Block("h", f"{n}. {e['prompt']}", level=3))
        if e.get("image"):
            out.append(Block("img", f"frames of {e['a']['id']} and {e['b']['id']}", path=e["image"]))
        elif e.get("image_error"):
            out.append(Block("p", f"frames not shown: {e['image_error']}"))
        out.append(Block("table", headers=["", ex["a"], ex["b"]], rows=[
            ["video", e["a"]["id"], e["b"]["id"]],
            ["score", num(e["a"]["score"]), num(e["b"]["score"])],
            ["comment", e["a"]["comment"] or "(none)", e["b"]["comment"] or "(none)"]]))
    return out


def document_blocks(data: dict[str, Any], *, title: str) -> list[Block]:
    s = data["settings"]
    out = [Block("h", title, level=1),
           Block("p", f"Scores: {s['score_kind']} (requested: {s['score_kind_requested']}). Bootstrap: {s['bootstrap']} "
                      f"prompt-clustered resamples, seed {s['seed']}, {s['ci_level']:.0%} intervals; "
                      f"{data['n_prompts']} prompts in all.")]
    if data["notes"]:
        out.append(Block("list", items=list(data["notes"])))
    out.append(Block("h", "Generators"))
    out.append(Block("table", headers=["generator", "videos", "failures", "partial", "prompts", "files"],
                     rows=[[g["name"], str(g["n_videos"]), str(g["n_failures"]), str(g["n_partial"]),
                            str(g["n_prompts"]), ", ".join(g["sources"])] for g in data["generators"]]))
    out.append(Block("h", "Ranking"))
    out += _ranking_blocks(data)
    out.append(Block("h", "Head to head"))
    out.append(Block("list", items=data["indistinguishable"] or ["every pair differs significantly"]))
    out += _pair_blocks(data)
    for key, path in (data.get("plots") or {}).items():
        out.append(Block("img", key, path=path))
    out += _example_blocks(data)
    out.append(Block("h", "Definitions"))
    out.append(Block("list", items=[f"{k}: {v}" for k, v in DEFINITIONS.items()]))
    return out


def csv_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for aspect in data["aspects"]:
        for g, r in data["table"][aspect].items():
            rows.append({"section": "ranking", "aspect": aspect, "generator": g, **{k: r[k] for k in (
                "mean", "ci_low", "ci_high", "rank", "rank_low", "rank_high", "n", "n_prompts")}})
        for p in data["pairs"][aspect]:
            rows.append({"section": "pair", "aspect": aspect, "generator": p["a"], "other": p["b"],
                         "n_prompts": p["n_shared_prompts"], "win_rate": p["win_rate_a"],
                         "mean_diff": p["mean_diff"], "p_value": p["p_value"], "p_holm": p["p_holm"]})
    return [{k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS} for r in rows]


def write_all(data: dict[str, Any], out_dir: str | os.PathLike, *, title: str) -> dict[str, Path]:
    """leaderboard.md, leaderboard.html (images embedded), leaderboard.json, leaderboard.csv in ``out_dir``."""
    out = Path(out_dir)
    blocks = document_blocks(data, title=title)
    files = {"markdown": out / "leaderboard.md", "html": out / "leaderboard.html", "csv": out / "leaderboard.csv"}
    files["markdown"].write_text(to_markdown(blocks), encoding="utf-8")
    files["html"].write_text(to_html(blocks, title=title, base=out), encoding="utf-8")
    files["json"] = write_json(data, out / "leaderboard.json")
    with open(files["csv"], "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(data))
    return files


# --- plots ----------------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # headless; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name if path.parent.name == "" else str(Path(path.parent.name) / path.name)


def means_plot(data: dict[str, Any], path: Path) -> str:
    """One panel per aspect: each generator's mean with its CI as an error bar."""
    plt = _pyplot()
    aspects = data["aspects"]
    gens = [g["name"] for g in data["generators"]]
    ncols = min(3, max(1, len(aspects)))
    nrows = math.ceil(len(aspects) / ncols) or 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.8 * nrows), squeeze=False)
    for ax in axes.ravel()[len(aspects):]:
        ax.set_visible(False)
    for ax, aspect in zip(axes.ravel(), aspects, strict=False):
        rows = [data["table"][aspect][g] for g in gens]
        m = np.array([np.nan if r["mean"] is None else r["mean"] for r in rows])
        lo = np.array([np.nan if r["ci_low"] is None else r["ci_low"] for r in rows])
        hi = np.array([np.nan if r["ci_high"] is None else r["ci_high"] for r in rows])
        err = np.nan_to_num(np.vstack([m - lo, hi - m]), nan=0.0)
        ax.errorbar(range(len(gens)), m, yerr=err, fmt="o", capsize=3)
        ax.set_xticks(range(len(gens)), gens, rotation=30, ha="right", fontsize=7)
        ax.set_title(label(aspect), fontsize=9)
    return _save(plt, fig, path)


def winrate_heatmap(data: dict[str, Any], aspect: str, path: Path) -> str:
    """Matrix of row-generator-beats-column win rates on shared prompts for one aspect."""
    plt = _pyplot()
    gens = [g["name"] for g in data["generators"]]
    idx = {g: i for i, g in enumerate(gens)}
    mat = np.full((len(gens), len(gens)), np.nan)
    for p in data["pairs"][aspect]:
        if p["win_rate_a"] is not None:
            mat[idx[p["a"]], idx[p["b"]]] = p["win_rate_a"]
            mat[idx[p["b"]], idx[p["a"]]] = 1 - p["win_rate_a"]
    fig, ax = plt.subplots(figsize=(1.2 * len(gens) + 2, 1.0 * len(gens) + 1.5))
    im = ax.imshow(mat, vmin=0, vmax=1, cmap="RdBu")
    for (i, j), v in np.ndenumerate(mat):
        if not np.isnan(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(gens)), gens, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(gens)), gens, fontsize=8)
    ax.set_title(f"win rate of row over column: {label(aspect)}", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(plt, fig, path)


def radar(data: dict[str, Any], path: Path) -> str:
    """Each generator's per-aspect means (not the mean of aspects) on one polar chart, 0-5."""
    plt = _pyplot()
    aspects = [a for a in data["aspects"] if a != "mean"]
    angles = np.linspace(0, 2 * np.pi, len(aspects), endpoint=False)
    fig = plt.figure(figsize=(5, 5))
    ax = fig.add_subplot(projection="polar")
    for g in data["generators"]:
        vals = [data["table"][a][g["name"]]["mean"] or 0.0 for a in aspects]
        ax.plot(np.append(angles, angles[:1]), vals + vals[:1], label=g["name"])
    ax.set_xticks(angles, [label(a) for a in aspects], fontsize=7)
    ax.set_ylim(0, 5)
    ax.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.3, 1.1))
    return _save(plt, fig, path)


def write_plots(data: dict[str, Any], out: Path) -> dict[str, str]:
    """PNG files under ``out/plots``; paths relative to ``out``."""
    plots = {"means with CIs": means_plot(data, out / "plots" / "means.png")}
    if len(data["generators"]) > 1 and data["aspects"]:
        aspect = "mean" if "mean" in data["aspects"] else data["aspects"][-1]
        plots[f"win rates ({label(aspect)})"] = winrate_heatmap(data, aspect, out / "plots" / "winrate.png")
    if len([a for a in data["aspects"] if a != "mean"]) >= 3:
        plots["radar"] = radar(data, out / "plots" / "radar.png")
    return plots
