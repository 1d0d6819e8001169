"""Report document: metrics dict -> blocks -> Markdown, self-contained HTML, JSON and long-format CSV.

Undefined statistics are ``None`` in JSON and the word ``undefined`` in every table (CSV included); a comment
measure that did not run is ``None`` in JSON with its reason in ``comments.not_computed``, and ``not computed``
in the tables.
metrics.csv columns: section (agreement, group, comparison, comments, distribution), system, other (the second
system of a comparison, or human/model for a distribution), group, aspect, metric, value, ci_low, ci_high, n, p_value.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aigve.report.blocks import NOT_COMPUTED, Block, document_blocks
from aigve.report.blocks import num as fmt

CSV_COLUMNS = ("section", "system", "other", "group", "aspect", "metric", "value", "ci_low", "ci_high", "n",
               "p_value")


# --- Markdown -------------------------------------------------------------------------------------------


# Characters Markdown would act on inside text: emphasis (* always; _ at a word's edge, since inside a word
# it is inert and ids like lavie_beach_00 stay readable), code, strikethrough, a link's "](", HTML tags and
# autolinks ("<" before a letter, /, ! or ?; "n < 2" and "<=" are inert); at the start of a line heading,
# quote and list markers. Only these are escaped so that report.md stays readable as plain text (a CI
# "[0.431, 0.580]" is no link). A backslash before ASCII punctuation is a literal (CommonMark).
_MD_INLINE = re.compile(r"[\\`*~]|\](?=\()|<(?=[A-Za-z/!?])|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_LINE_START = re.compile(r"^([ \t]*)([#>+=-]|\d+)([.)]?)(?=\s|$)", re.MULTILINE)  # every line of a text


def md_text(text: Any) -> str:
    """``text`` as literal Markdown: active characters backslash-escaped, so ``#d*<=0`` shows as written."""
    escaped = _MD_INLINE.sub(lambda m: "\\" + m.group(0), str(text))

    def marker(m: re.Match) -> str:
        lead, mark, punct = m.groups()
        if mark.isdigit():  # "1. " / "1) " starts an ordered list; a bare number does not
            return f"{lead}{mark}\\{punct}" if punct else m.group(0)
        return f"{lead}\\{mark}{punct}"

    return _MD_LINE_START.sub(marker, escaped)


def _md_cell(text: Any) -> str:
    return md_text(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """Markdown with pipe tables; images as relative links. Text is escaped (:func:`md_text`)."""
    out: list[str] = []
    for b in blocks:
        if b.kind == "h":
            out.append(f"{'#' * b.level} {md_text(b.text)}\n")
        elif b.kind == "p":
            out.append(f"{md_text(b.text)}\n")
        elif b.kind == "warn":
            out.append(f"> **{md_text(b.text)}**\n")
        elif b.kind == "list":
            out.append("\n".join(f"- {md_text(item)}" for item in b.items) + "\n")
        elif b.kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("|" + "|".join("---" for _ in b.headers) + "|")
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows)
            out.append("")
        elif b.kind == "img":
            out.append(f"![{b.text}]({b.path})\n")
    return "\n".join(out)


# --- HTML -----------------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}.warn{background:#fff3cd;border:1px solid #e0c36a;padding:0.6em}
img{max-width:100%;border:1px solid #eee}code{background:#f6f6f6}"""


def _img_src(path: Path, base: Path | None, embed: bool) -> str:
    full = path if path.is_absolute() or base is None else base / path
    if embed and full.is_file():
        return "data:image/png;base64," + base64.b64encode(full.read_bytes()).decode("ascii")
    return html.escape(str(path))


def to_html(blocks: Sequence[Block], *, title: str, base: str | os.PathLike | None = None, embed: bool = True) -> str:
    """One self-contained HTML page; PNGs embedded as base64 (``embed=False``: relative links)."""
    e = html.escape
    base = Path(base) if base is not None else None
    body: list[str] = []
    for b in blocks:
        if b.kind == "h":
            body.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif b.kind == "p":
            body.append(f"<p>{e(b.text)}</p>")
        elif b.kind == "warn":
            body.append(f'<p class="warn"><strong>{e(b.text)}</strong></p>')
        elif b.kind == "list":
            body.append("<ul>" + "".join(f"<li>{e(str(i))}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{e(str(h))}</th>" for h in b.headers)
            rows = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in b.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif b.kind == "img":
            body.append(f'<p><img alt="{e(b.text)}" src="{_img_src(Path(b.path), base, embed)}"></p>')
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


# --- CSV ------------------------------------------------------------------------------------------------


def _est_row(section: str, system: str, group: str, aspect: str, metric: str, est: dict[str, Any]) -> dict:
    return {"section": section, "system": system, "other": "", "group": group, "aspect": aspect, "metric": metric,
            "value": fmt(est.get("value"), 6), "ci_low": fmt(est.get("ci_low"), 6) if est.get("ci_low") is not None else "",
            "ci_high": fmt(est.get("ci_high"), 6) if est.get("ci_high") is not None else "", "n": est.get("n", ""),
            "p_value": ""}


def csv_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Long format: one row per (section, system, group, aspect, metric)."""
    rows = []
    for system, by_aspect in (metrics.get("agreement") or {}).items():
        for aspect, stats in by_aspect.items():
            rows.extend(_est_row("agreement", system, "", aspect, k, e) for k, e in stats.items())
    groups = metrics.get("groups") or {}
    for system, by_group in (groups.get("by_system") or {}).items():
        for group, by_aspect in by_group.items():
            for aspect, stats in by_aspect.items():
                rows.extend(_est_row("group", system, group, aspect, k, e) for k, e in stats.items())
    for c in metrics.get("comparisons") or []:
        row = _est_row("comparison", c["a"], "", c["aspect"], "srcc_diff",
                       {"value": c["diff"], "ci_low": c["ci_low"], "ci_high": c["ci_high"], "n": c["n"]})
        row.update(other=c["b"], p_value=fmt(c["p_value"], 6) if c["p_value"] is not None else "")
        rows.append(row)
    skipped = (metrics.get("comments") or {}).get("not_computed") or {}
    for system, by_aspect in ((metrics.get("comments") or {}).get("by_system") or {}).items():
        for aspect, vals in by_aspect.items():
            for k in ("rouge_l", "bleu", "embedding"):
                row = _est_row("comments", system, "", aspect, k, {"value": vals[k], "n": vals["n"]})
                if k in skipped:
                    row["value"] = NOT_COMPUTED
                rows.append(row)
    for system, by_aspect in (metrics.get("distributions") or {}).items():
        for aspect, sides in by_aspect.items():
            for side, d in sides.items():
                rows.append(_est_row("distribution", system, side, aspect, "mean", {"value": d["mean"], "n": d["n"]}))
    return rows


def write_csv(metrics: dict[str, Any], path: str | os.PathLike) -> Path:
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(metrics))
    return path


def write_json(metrics: dict[str, Any], path: str | os.PathLike) -> Path:
    """metrics.json; NaN never appears (undefined values are already None)."""
    path = Path(path)
    path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_all(metrics: dict[str, Any], out_dir: str | os.PathLike, *, title: str) -> dict[str, Path]:
    """report.md, report.html (images embedded), metrics.json, metrics.csv in ``out_dir``."""
    out = Path(out_dir)
    blocks = document_blocks(metrics, title=title)
    files = {"markdown": out / "report.md", "html": out / "report.html"}
    files["markdown"].write_text(to_markdown(blocks), encoding="utf-8")
    files["html"].write_text(to_html(blocks, title=title, base=out), encoding="utf-8")
    files["json"] = write_json(metrics, out / "metrics.json")
    files["csv"] = write_csv(metrics, out / "metrics.csv")
    return files
