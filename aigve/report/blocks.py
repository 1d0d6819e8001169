"""The report's content as format-neutral blocks (headings, paragraphs, tables, images), built from the
metrics dict; :mod:`aigve.report.render` turns them into Markdown and HTML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aigve.aspects import BY_KEY
from aigve.report.comments import NOT_COMPUTED  # a measure that did not run; not "undefined"

UNDEFINED = "undefined"
MAX_LISTED = 30  # unmatched ids listed in the document; metrics.json keeps them all


@dataclass
class Block:
    kind: str  # h | p | warn | list | table | img
    text: str = ""
    level: int = 2
    items: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    path: str = ""


def num(value: Any, digits: int = 3) -> str:
    if value is None:
        return UNDEFINED
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def with_ci(est: dict[str, Any], digits: int = 3) -> str:
    """``0.512 [0.431, 0.580]``, or ``undefined``."""
    if est.get("value") is None:
        return UNDEFINED
    if est.get("ci_low") is None:
        return num(est["value"], digits)
    return f"{num(est['value'], digits)} [{num(est['ci_low'], digits)}, {num(est['ci_high'], digits)}]"


def label(aspect: str) -> str:
    return BY_KEY[aspect].label if aspect in BY_KEY else "Mean of aspects"


def _listing(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_LISTED])
    return shown + (f", ... and {len(ids) - MAX_LISTED} more (all in metrics.json)" if len(ids) > MAX_LISTED else "")


def _inputs(metrics: dict[str, Any]) -> list[Block]:
    blocks = [Block("h", "Inputs")]
    human = metrics.get("human")
    settings = metrics["settings"]
    if human:
        blocks.append(Block("p", f"Human file: {human.get('path', '')} ({human['n_items']} items; aspects rated: "
                                 f"{', '.join(human['aspects'])})."))
    items = []
    for s in metrics["systems"]:
        line = (f"{s['name']}: {s['path']} - {s['n_records']} records, {s['n_errors']} failed, "
                f"{s['n_parse_failures']} unparseable; backend: {', '.join(s['backends']) or 'not recorded'}")
        if s.get("skipped_lines"):
            line += f"; {len(s['skipped_lines'])} incomplete line(s) skipped"
        if "n_matched" in s:
            line += f"; matched {s['n_matched']}"
        items.append(line)
    blocks.append(Block("list", items=items))
    for s in metrics["systems"]:
        if s.get("unmatched_scores"):
            blocks.append(Block("p", f"{s['name']}: {len(s['unmatched_scores'])} scored item(s) not in the human "
                                     f"file: {_listing(s['unmatched_scores'])}"))
        if s.get("unmatched_human"):
            blocks.append(Block("p", f"{s['name']}: {len(s['unmatched_human'])} human item(s) not in the score "
                                     f"file: {_listing(s['unmatched_human'])}"))
    blocks.append(Block("p", f"Settings: bootstrap {settings['bootstrap']} resamples, seed {settings['seed']}, "
                             f"{settings['ci_level']:.0%} percentile CIs"
                             f"{_resampling(settings)}"
                             f"; 0 on action aspects "
                             f"{'= not applicable (left out)' if settings['zero_as_na'] else 'counted as a score'}."))
    return blocks


def _resampling(settings: dict[str, Any]) -> str:
    column = settings.get("cluster_by")
    return f", resampling whole {column} clusters" if column else ", resampling single items"


def _agreement(metrics: dict[str, Any]) -> list[Block]:
    blocks = [Block("h", "Agreement with human raters")]
    headers = ["aspect", "n", "SRCC [95% CI]", "PLCC [95% CI]", "KRCC [95% CI]", "exact acc", "within-1 acc",
               "pairwise acc"]
    for system, by_aspect in metrics["agreement"].items():
        blocks.append(Block("h", system, level=3))
        rows = []
        for aspect in metrics["aspects"]:
            st = by_aspect[aspect]
            rows.append([label(aspect), str(st["srcc"]["n"]), with_ci(st["srcc"]), with_ci(st["plcc"]),
                         with_ci(st["krcc"]), num(st["exact_acc"]["value"]), num(st["within1_acc"]["value"]),
                         num(st["pairwise_acc"]["value"])])
        blocks.append(Block("table", headers=headers, rows=rows))
        mean_srcc = (metrics.get("mean_of_aspect_srcc") or {}).get(system)
        if mean_srcc is not None:
            blocks.append(Block("p", f"Mean of aspects, two ways: SRCC of per-item means (the table's row) "
                                     f"{num(by_aspect['mean']['srcc']['value']) if 'mean' in by_aspect else 'n/a'}; "
                                     f"mean of the per-aspect SRCCs {num(mean_srcc['value'])} "
                                     f"(over {mean_srcc['n_aspects']} aspects)."))
    if len(metrics["agreement"]) > 1:
        blocks.append(Block("h", "Systems side by side (SRCC [95% CI], n)", level=3))
        systems = list(metrics["agreement"])
        rows = [[label(a)] + [f"{with_ci(metrics['agreement'][s][a]['srcc'])}, n={metrics['agreement'][s][a]['srcc']['n']}"
                              for s in systems] for a in metrics["aspects"]]
        blocks.append(Block("table", headers=["aspect", *systems], rows=rows))
    comps = metrics.get("comparisons") or []
    if comps:
        blocks.append(Block("h", "Paired bootstrap test of SRCC differences", level=3))
        rows = [[f"{c['a']} - {c['b']}", label(c["aspect"]), str(c["n"]), num(c["srcc_a"]), num(c["srcc_b"]),
                 with_ci({"value": c["diff"], "ci_low": c["ci_low"], "ci_high": c["ci_high"]}),
                 num(c["p_value"], 4)] for c in comps]
        blocks.append(Block("table", headers=["systems", "aspect", "n", "SRCC a", "SRCC b", "diff [95% CI]",
                                              "p (two-sided)"], rows=rows))
    return blocks


def _groups(metrics: dict[str, Any]) -> list[Block]:
    groups = metrics.get("groups")
    if not groups:
        return []
    blocks = [Block("h", f"Breakdown by {groups['column']} (SRCC, n)")]
    for system, by_group in groups["by_system"].items():
        blocks.append(Block("h", system, level=3))
        rows = [[g] + [f"{num(st[a]['srcc']['value'])} (n={st[a]['srcc']['n']})" for a in metrics["aspects"]]
                for g, st in by_group.items()]
        blocks.append(Block("table", headers=[groups["column"], *map(label, metrics["aspects"])], rows=rows))
    return blocks


def _comments(metrics: dict[str, Any]) -> list[Block]:
    comments = metrics.get("comments")
    if not comments:
        return []
    blocks = [Block("h", "Comment quality against human comments")]
    labels = comments["labels"]
    skipped = comments.get("not_computed") or {}

    def cell(v: dict[str, Any], measure: str, digits: int = 3) -> str:
        return NOT_COMPUTED if measure in skipped else num(v[measure], digits)

    for system, by_aspect in comments["by_system"].items():
        blocks.append(Block("h", system, level=3))
        rows = [[label(a) if a != "all" else "All comments", str(v["n"]), cell(v, "rouge_l"), cell(v, "bleu", 2),
                 cell(v, "embedding")] for a, v in by_aspect.items()]
        blocks.append(Block("table", headers=["aspect", "pairs", labels["rouge_l"], labels["bleu"],
                                              labels["embedding"]], rows=rows))
    if comments.get("notes"):
        blocks.append(Block("list", items=list(comments["notes"])))
    return blocks


def _distributions(metrics: dict[str, Any]) -> list[Block]:
    blocks = [Block("h", "Score distributions (counts of rounded scores 0-5)")]
    for system, by_aspect in metrics["distributions"].items():
        blocks.append(Block("h", system, level=3))
        rows = []
        for aspect, sides in by_aspect.items():
            for side, d in sides.items():
                rows.append([label(aspect), side, str(d["n"]), num(d["mean"], 2),
                             *(str(d["counts"][str(s)]) for s in range(6))])
        blocks.append(Block("table", headers=["aspect", "who", "n", "mean", "0", "1", "2", "3", "4", "5"], rows=rows))
    return blocks


def document_blocks(metrics: dict[str, Any], *, title: str) -> list[Block]:
    """The whole report in reading order: disclaimers first, then inputs, agreement, plots, definitions."""
    blocks = [Block("h", title, level=1),
              Block("p", f"aigve {metrics.get('aigve_version', '')}, generated {metrics.get('created', '')}.")]
    blocks += [Block("warn", s["disclaimer"]) for s in metrics["systems"] if s.get("disclaimer")]
    blocks += [Block("warn", f"Note: {n}") for n in metrics.get("notes", [])]
    blocks += _inputs(metrics)
    if metrics.get("agreement"):
        blocks += _agreement(metrics) + _groups(metrics) + _comments(metrics)
    blocks += _distributions(metrics)
    if metrics.get("plots"):
        blocks.append(Block("h", "Plots"))
        blocks += [Block("img", text=name, path=path) for name, path in metrics["plots"].items()]
    if metrics.get("agreement"):
        blocks.append(Block("h", "Definitions"))
        blocks.append(Block("list", items=[f"{k}: {v}" for k, v in metrics["definitions"].items()]))
    return blocks
