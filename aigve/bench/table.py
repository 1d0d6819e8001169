"""Render a bench report (the dict of :meth:`aigve.bench.harness.BenchReport.to_dict`) as a text or Markdown table."""

from __future__ import annotations

from typing import Any

COLUMNS = (
    ("path", "path"), ("n", "videos"), ("bs", "batch"),
    ("decode", "decode s/vid"), ("prep", "preprocess s/vid"), ("model", "model s/vid"), ("parse", "parse s/vid"),
    ("wall", "wall s/vid"), ("vps", "videos/s"), ("tps", "gen tok/s"), ("ovh", "non-model %"),
    ("vis", "visual tok"), ("rss", "peak RSS MiB"), ("gpu", "peak GPU MiB"), ("x", "x ref videos/s"),
    ("xmem", "x ref RSS"),
)


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    return format(value, spec)


def _row(p: dict[str, Any]) -> dict[str, str]:
    stages = p.get("stage_s_per_video") or {}
    ok = p.get("status") == "ok"
    return {
        "path": p["label"], "n": str(p.get("videos", 0)), "bs": str(p.get("batch_size", 1)),
        "decode": _fmt(stages.get("decode_s") if ok else None, ".3f"),
        "prep": _fmt(stages.get("preprocess_s") if ok else None, ".3f"),
        "model": _fmt(stages.get("model_s") if ok else None, ".3f"),
        "parse": _fmt(stages.get("parse_s") if ok else None, ".4f"),
        "wall": _fmt(p.get("wall_s_per_video") if ok else None, ".3f"),
        "vps": _fmt(p.get("videos_per_s"), ".3f"), "tps": _fmt(p.get("tokens_per_s"), ".1f"),
        "ovh": _fmt(None if p.get("overhead_fraction") is None else 100 * p["overhead_fraction"], ".0f"),
        "vis": _fmt(p.get("visual_tokens"), ".0f"), "rss": _fmt(p.get("peak_rss_mib"), ".0f"),
        "gpu": _fmt(p.get("peak_gpu_mib"), ".0f"), "x": _fmt(p.get("speedup_vs_reference"), ".2f"),
        "xmem": _fmt(p.get("rss_vs_reference"), ".2f"),
    }


def _notes(report: dict[str, Any]) -> list[str]:
    notes = [f"(a) reference = {report['reference']}; x ref columns are ratios to it"] if report.get("reference") else []
    for p in report["paths"]:
        if p.get("status") != "ok":
            notes.append(f"{p['label']}: {p.get('status')} - {p.get('reason')}")
    a = report.get("agreement") or {}
    if a.get("n"):
        rho = "-" if a.get("spearman") is None else f"{a['spearman']:.3f}"
        notes.append(f"score-only expected vs generated scores ({a.get('generated')}): n={a['n']} pairs, "
                     f"mean |diff| {a['mean_abs_diff']:.3f}, Spearman {rho}, rounded-equal {a['exact_match']:.1%}")
    else:
        notes.append(f"score-only vs generated agreement: n/a ({a.get('note', 'no pairs')})")
    env = report.get("environment") or {}
    load = env.get("loadavg_start")
    notes.append(f"device {env.get('device')}{' (' + env['gpu'] + ')' if env.get('gpu') else ''}, "
                 f"torch {env.get('torch')} ({env.get('torch_threads')} threads), transformers {env.get('transformers')}"
                 + (f", load average at start {load[0]:.1f}" if load else ""))
    notes.append("decode s/vid on aigve paths runs in background workers, overlapped with the model; "
                 "non-model % = 1 - (model seconds / wall seconds)")
    return notes


def render_table(report: dict[str, Any]) -> str:
    """Aligned plain-text table, one row per path, followed by notes (skips, agreement, environment)."""
    rows = [_row(p) for p in report["paths"]]
    header = {key: title for key, title in COLUMNS}
    widths = {key: max(len(header[key]), *(len(r[key]) for r in rows)) for key, _ in COLUMNS}
    lines = []
    for r in [header, *rows]:
        cells = [r[key].ljust(widths[key]) if key == "path" else r[key].rjust(widths[key]) for key, _ in COLUMNS]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines + [""] + [f"* {n}" for n in _notes(report)])


def render_markdown(report: dict[str, Any]) -> str:
    """GitHub Markdown table with the same columns and notes (for the README)."""
    rows = [_row(p) for p in report["paths"]]
    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + "|".join("---" if key == "path" else "---:" for key, _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(r[key] for key, _ in COLUMNS) + " |" for r in rows]
    return "\n".join(lines + [""] + [f"- {n}" for n in _notes(report)])
