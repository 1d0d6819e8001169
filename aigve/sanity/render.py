"""Write a sanity run as ``sanity.md``, ``sanity.html`` and ``metrics.json``, with frame strips of the worst
examples (``frames/<check>/<clip>.png``: the original's frames on top, the variant's below, decoded with
:mod:`aigve.video`)."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from aigve.sanity.checks import PASS_CI_LOW, PASS_SHARE, Clip, Variant
from aigve.sanity.report import AspectStats

if TYPE_CHECKING:
    from aigve.sanity.run import SanityResult

log = logging.getLogger(__name__)

STRIP_FRAMES = 4
THUMB_HEIGHT = 96
THRESHOLD_TEXT = (f"A check passes when, on every aspect it tests that the judge scores, at least {PASS_SHARE:.0%} of "
                  f"the clips moved as expected and the lower end of that share's 95% Wilson interval is above "
                  f"{PASS_CI_LOW:g} (determinism checks: every clip identical). A share high enough on too few clips "
                  f"is 'inconclusive' (at least 4 clips are needed); an aspect the judge does not score is "
                  f"'not applicable'.")


def _fmt(x: float | None, spec: str = ".2f") -> str:
    return "–" if x is None else format(x, spec)


def _share(a: AspectStats) -> str:
    if a.share is None:
        return a.verdict
    return f"{a.share:.2f} [{_fmt(a.ci_low)}, {_fmt(a.ci_high)}] (n={a.n})"


def frame_strip(original: str, variant: str, frames: int = STRIP_FRAMES, height: int = THUMB_HEIGHT) -> np.ndarray:
    """``frames`` evenly spaced frames of each video, ``height`` pixels tall, original above variant (RGB)."""
    rows = [_row(path, frames, height) for path in (original, variant)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.concatenate([rows[0], np.full((4, width, 3), 255, np.uint8), rows[1]], axis=0)


def _row(path: str, frames: int, height: int) -> np.ndarray:
    from aigve.media import SamplingPlan
    from aigve.video import probe, read_frames

    info = probe(path)
    width = max(2, round(info.width * height / info.height / 2) * 2)
    idx = np.unique(np.linspace(0, info.num_frames - 1, frames).round().astype(int))
    fps = info.fps or 24.0
    plan = SamplingPlan(indices=tuple(int(i) for i in idx), timestamps=tuple(i / fps for i in idx),
                        frame_height=height, frame_width=width, sampled_fps=fps, source_fps=fps,
                        fps_assumed=info.fps is None, strategy="thumbnails", visual_tokens=0)
    got = read_frames(path, plan, info)
    gap = np.full((height, 4, 3), 255, np.uint8)
    return np.concatenate([x for f in got for x in (f, gap)][:-1], axis=1)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:80] or "clip"


def write_strips(result: SanityResult, out_dir: Path, clips: Mapping[str, Clip],
                 variants: Mapping[tuple[str, str], Variant | str]) -> dict[tuple[str, str], str]:
    """PNG strips for every worst example: ``(check, clip) -> path relative to out_dir``."""
    out: dict[tuple[str, str], str] = {}
    for check in result.checks:
        for ex in check.worst:
            v = variants.get((ex.clip, check.name))
            if not isinstance(v, Variant):
                continue
            rel = f"frames/{check.name}/{_safe(ex.clip)}.png"
            try:
                strip = frame_strip(clips[ex.clip].video, v.video)
            except Exception as exc:  # noqa: BLE001 - thumbnails are a nicety; the figures stand without them
                log.warning("%s: no frames for the %s example: %s", ex.clip, check.name, exc)
                continue
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out_dir / rel), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
            out[check.name, ex.clip] = rel
    return out


def _header(result: SanityResult) -> list[str]:
    b = result.backend
    lines = ["# aigve sanity report", ""]
    if result.provenance:
        lines += [f"**NOT A REAL EVALUATION: these scores come from {result.provenance}.**", ""]
    lines += [f"- backend: `{b.get('name')}`" + (f", model `{b.get('model')}`" if b.get("model") else ""),
              f"- clips: {len(result.clips)}; scorings: {result.scorings} "
              f"(at most clips × (1 + {len(result.checks)} checks)); "
              f"{result.timings.get('scoring_s', 0):.1f} s scoring, {result.timings.get('variants_s', 0):.1f} s making variants",
              f"- aspects judged: {', '.join(result.judged) or 'none'} ({result.judged_source})",
              f"- backend samples its answers: {'yes' if result.samples else 'no'}",
              "", THRESHOLD_TEXT, ""]
    return lines


def render_markdown(result: SanityResult, strips: Mapping[tuple[str, str], str]) -> str:
    lines = _header(result)
    lines += ["## Summary", "", "| check | what | expectation | verdict | share moved as expected [95% CI] |",
              "|---|---|---|---|---|"]
    for c in result.checks:
        shares = "; ".join(f"{a.aspect}: {_share(a)}" for a in c.aspects if a.verdict != "not applicable") or "–"
        lines.append(f"| {c.name} | {c.description} | {c.expectation} | **{c.verdict}** | {shares} |")
    for c in result.checks:
        lines += ["", f"## {c.name}: {c.verdict}", "", f"{c.description}; {c.expectation}.", ""]
        lines += ["| aspect | verdict | n | held | share | 95% CI | mean Δ | dropped |", "|---|---|---:|---:|---:|---|---:|---:|"]
        for a in c.aspects:
            floor = f" ({a.at_floor} at the floor, left out)" if a.at_floor else ""
            lines.append(f"| {a.aspect} | {a.verdict}{floor} | {a.n} | {a.held} | {_fmt(a.share)} | "
                         f"[{_fmt(a.ci_low)}, {_fmt(a.ci_high)}] | {_fmt(a.mean_delta, '+.2f')} | {_fmt(a.drop_share)} |")
        if c.other_mean_delta:
            others = ", ".join(f"{k} {_fmt(v, '+.2f')}" for k, v in c.other_mean_delta.items())
            lines += ["", f"Mean change of the other judged aspects (not tested): {others}."]
        if c.notes:
            lines += ["", *(f"- {n}" for n in c.notes)]
        if c.errors:
            lines += ["", f"{len(c.errors)} clip(s) not scored: " + "; ".join(f"{e['clip']}: {e['error']}" for e in c.errors[:5])]
        if c.worst:
            lines += ["", "Worst examples:", ""]
            for ex in c.worst:
                deltas = ", ".join(f"{k} {_fmt(v, '+.0f')}" for k, v in ex.deltas.items() if v is not None)
                note = f" ({ex.note})" if ex.note else ""
                lines.append(f"- `{ex.clip}`: {deltas}{note}")
                if (c.name, ex.clip) in strips:
                    lines.append(f"  ![{ex.clip}: original above, variant below]({strips[c.name, ex.clip]})")
    return "\n".join(lines) + "\n"


_COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "inconclusive": "#9a6700", "not applicable": "#6e7781",
            "no data": "#6e7781", "informational": "#0969da"}


def render_html(result: SanityResult, strips: Mapping[tuple[str, str], str]) -> str:
    e = html.escape

    def verdict(v: str) -> str:
        return f'<b style="color:{_COLOURS.get(v, "#000")}">{e(v)}</b>'

    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>aigve sanity report</title><style>"
             "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}img{max-width:100%}</style></head><body>"]
    header = _header(result)
    parts.append(f"<h1>{e(header[0][2:])}</h1>")
    parts += [f"<p>{e(line.lstrip('- ').replace('**', ''))}</p>" for line in header[1:] if line]
    parts.append("<h2>Summary</h2><table><tr><th>check</th><th>what</th><th>expectation</th><th>verdict</th>"
                 "<th>share moved as expected [95% CI]</th></tr>")
    for c in result.checks:
        shares = "<br>".join(f"{e(a.aspect)}: {e(_share(a))}" for a in c.aspects if a.verdict != "not applicable")
        parts.append(f"<tr><td><a href='#{e(c.name)}'>{e(c.name)}</a></td><td>{e(c.description)}</td>"
                     f"<td>{e(c.expectation)}</td><td>{verdict(c.verdict)}</td><td>{shares or '–'}</td></tr>")
    parts.append("</table>")
    for c in result.checks:
        parts.append(f"<h2 id='{e(c.name)}'>{e(c.name)}: {verdict(c.verdict)}</h2><p>{e(c.description)}; "
                     f"{e(c.expectation)}.</p><table><tr><th>aspect</th><th>verdict</th><th>n</th><th>held</th>"
                     "<th>share</th><th>95% CI</th><th>mean Δ</th><th>dropped</th></tr>")
        for a in c.aspects:
            parts.append(f"<tr><td>{e(a.aspect)}</td><td>{verdict(a.verdict)}</td><td>{a.n}</td><td>{a.held}</td>"
                         f"<td>{_fmt(a.share)}</td><td>[{_fmt(a.ci_low)}, {_fmt(a.ci_high)}]</td>"
                         f"<td>{_fmt(a.mean_delta, '+.2f')}</td><td>{_fmt(a.drop_share)}</td></tr>")
        parts.append("</table>")
        parts += [f"<p>{e(n)}</p>" for n in c.notes]
        for ex in c.worst:
            deltas = ", ".join(f"{k} {_fmt(v, '+.0f')}" for k, v in ex.deltas.items() if v is not None)
            parts.append(f"<p><code>{e(ex.clip)}</code>: {e(deltas)} {e(ex.note)}</p>")
            if (c.name, ex.clip) in strips:
                parts.append(f"<img src='{e(strips[c.name, ex.clip])}' alt='{e(ex.clip)}: original above, variant below'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result: SanityResult, out_dir: Path, clips: Mapping[str, Clip],
                 variants: Mapping[tuple[str, str], Variant | str]) -> dict[str, str]:
    """Write the three report files (and the frame strips); returns ``{name: path}``."""
    from aigve.results import write_text_atomic

    strips = write_strips(result, out_dir, clips, variants)
    files = {"markdown": out_dir / "sanity.md", "html": out_dir / "sanity.html", "metrics": out_dir / "metrics.json"}
    write_text_atomic(files["markdown"], render_markdown(result, strips))
    write_text_atomic(files["html"], render_html(result, strips))
    metrics: dict[str, Any] = result.to_dict()
    metrics["frames"] = {f"{k[0]}/{k[1]}": v for k, v in strips.items()}
    write_text_atomic(files["metrics"], json.dumps(metrics, indent=2, default=str))
    return {k: str(v) for k, v in files.items()}
