"""``aigve benchmark table RUN...``: several judges side by side, one table per benchmark, in the published
column order (dimension x metric), each cell ``value [95% CI]`` (percent for accuracies, as the papers print
them; correlations as they are)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aigve.errors import InputError

PERCENT = {"with_ties", "without_ties", "accuracy", "within1"}


def read_run(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME=RUN`` or ``RUN`` (a benchmark run folder, or its metrics.json) -> (label, metrics)."""
    label, sep, path = spec.partition("=")
    if not sep:
        label, path = "", spec
    p = Path(path)
    file = p / "metrics.json" if p.is_dir() else p
    if not file.is_file():
        raise InputError(file, "no metrics.json here; run `aigve benchmark run NAME --data DIR --out RUN` first")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(file, f"not valid JSON ({exc.msg})") from None
    judge = data.get("judge") or {}
    return label or judge.get("profile") or judge.get("model") or judge.get("name") or p.name, data


def _fmt(name: str, cell: Mapping[str, Any]) -> str:
    value = cell.get("value")
    if value is None:
        return "undefined"
    scale = 100.0 if name in PERCENT else 1.0
    text = f"{value * scale:.2f}" if scale != 1.0 else f"{value:.3f}"
    lo, hi = cell.get("ci") or (None, None)
    if lo is not None and hi is not None:
        text += f" [{lo * scale:.2f}, {hi * scale:.2f}]" if scale != 1.0 else f" [{lo:.3f}, {hi:.3f}]"
    return text


def build(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """``{benchmark: {"columns": [[dim, metric], ...], "rows": [{"judge", "cells": {"dim/metric": cell}}]}}``."""
    out: dict[str, Any] = {}
    for label, data in runs:
        bench = out.setdefault(data["benchmark"], {"columns": [], "rows": []})
        for col in data.get("columns", []):
            if col not in bench["columns"]:
                bench["columns"].append(col)
        cells = {f"{d}/{m}": data["metrics"][d][m] for d, m in data.get("columns", [])}
        bench["rows"].append({"judge": label, "notes": data.get("notes", []), "n_scored": data.get("n_scored"),
                              "n_videos": data.get("n_videos"), "cells": cells})
    return out


def markdown(table: Mapping[str, Any]) -> str:
    lines = []
    for bench, t in table.items():
        cols = t["columns"]
        lines += [f"### {bench}", "", "| judge | " + " | ".join(f"{d} {m}" for d, m in cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for row in t["rows"]:
            cells = [_fmt(m, row["cells"][f"{d}/{m}"]) if f"{d}/{m}" in row["cells"] else "-" for d, m in cols]
            lines.append(f"| {row['judge']} | " + " | ".join(cells) + " |")
        notes = sorted({n for row in t["rows"] for n in row["notes"]})
        lines += [""] + [f"note: {n}" for n in notes] + ([""] if notes else [])
    lines.append("Accuracies in percent, correlations as they are; [95% bootstrap CI over items].")
    return "\n".join(lines) + "\n"
