"""Explain a ranking: the shared prompts where two generators' scores differ most, with frame thumbnails
(first, middle, last; decoded by :mod:`aigve.video`) and both judges' comments."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aigve.report.lb_data import Item, values_of

log = logging.getLogger(__name__)

THUMB_HEIGHT = 112  # pixels; three frames per row keep the strip readable in a report column


def pick_pair(data: dict[str, Any], aspect: str) -> tuple[str, str] | None:
    """The two best-ranked generators on ``aspect`` (None with fewer than two ranked)."""
    ranked = sorted((r["rank"], g) for g, r in data["table"][aspect].items() if r["rank"] is not None)
    return (ranked[0][1], ranked[1][1]) if len(ranked) >= 2 else None


def largest_differences(items: Sequence[Item], a: str, b: str, aspect: str, kind: str, k: int,
                        value_of) -> list[tuple[Item, Item, float]]:
    """Up to ``k`` (item of a, item of b, |difference|) on shared prompts, largest first (ties: by prompt).
    Per prompt, each generator's first scored video by id stands for it."""
    def first(gen: str) -> dict[str, Item]:
        out: dict[str, Item] = {}
        for i in sorted((i for i in items if i.generator == gen and i.error is None), key=lambda i: i.id):
            if value_of(i) is not None:
                out.setdefault(i.prompt, i)
        return out

    fa, fb = first(a), first(b)
    rows = [(fa[p], fb[p], abs(value_of(fa[p]) - value_of(fb[p]))) for p in sorted(set(fa) & set(fb))]
    rows.sort(key=lambda r: -r[2])  # stable: equal differences stay in prompt order
    return rows[:k]


def _resolve(item: Item, frames_under: Sequence[Path] | None = None) -> Path | None:
    """The item's video file (as written, else beside its results file); with ``frames_under`` only a file
    inside one of those folders (a server must not show frames of any video a results file names)."""
    if not item.video:
        return None
    p = Path(item.video)
    for cand in (p, Path(item.source).parent / p):
        if cand.is_file():
            if frames_under is not None and not any(cand.resolve().is_relative_to(Path(d).resolve())
                                                    for d in frames_under):
                return None
            return cand
    return None


def thumbnails(path: Path) -> np.ndarray:
    """First, middle and last frame side by side, uint8 (THUMB_HEIGHT, 3 * w, 3)."""
    from aigve.media import SamplingPlan
    from aigve.video import probe, read_frames

    info = probe(path)
    n = max(1, info.num_frames)
    width = max(2, round(info.width * THUMB_HEIGHT / max(1, info.height)))
    idx = (0, n // 2, n - 1)
    fps = info.fps or 24.0
    plan = SamplingPlan(indices=idx, timestamps=tuple(i / fps for i in idx), frame_height=THUMB_HEIGHT,
                        frame_width=width, sampled_fps=fps, source_fps=fps, fps_assumed=info.fps is None,
                        strategy="uniform", visual_tokens=0)
    frames = read_frames(path, plan, info)
    return np.concatenate(list(frames), axis=1)


def _strip(a: Item, b: Item, out_path: Path, frames_under: Sequence[Path] | None = None) -> str:
    from PIL import Image

    rows = []
    for item in (a, b):
        path = _resolve(item, frames_under)
        if path is None:
            raise FileNotFoundError(f"video of {item.generator}/{item.id} not found ({item.video})")
        rows.append(thumbnails(path))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(out_path)
    return str(Path(out_path.parent.name) / out_path.name)


def find_examples(items: Sequence[Item], data: dict[str, Any], out: Path, *, k: int,
                  aspect: str | None = None, pair: tuple[str, str] | None = None,
                  frames_under: Sequence[Path] | None = None) -> dict[str, Any] | None:
    """The ``k`` largest differences between the two best generators (or ``pair``) on ``aspect``
    (default: overall, else the mean of aspects); PNG strips under ``out/examples``. ``frames_under``: decode
    only videos inside these folders (None: any readable file)."""
    from aigve.errors import ConfigError
    from aigve.report.leaderboard import item_value

    aspects = data["aspects"]
    aspect = aspect or ("overall" if "overall" in aspects else aspects[-1] if aspects else None)
    if aspect not in aspects:
        raise ConfigError("examples_aspect", aspect, f"use one of the leaderboard's aspects: {', '.join(aspects)}")
    known = set(data["table"][aspect])
    if pair is not None and not set(pair) <= known:
        raise ConfigError("examples_pair", ",".join(pair), f"name two of the generators: {', '.join(sorted(known))}")
    pair = pair or pick_pair(data, aspect)
    if pair is None:
        return None
    kind = data["settings"]["score_kind"]
    plain = [a for a in aspects if a != "mean"]
    rows = largest_differences(items, *pair, aspect, kind, k, lambda i: item_value(i, aspect, plain, kind))
    shown = []
    for n, (ia, ib, diff) in enumerate(rows, 1):
        entry: dict[str, Any] = {"prompt": ia.prompt, "difference": diff}
        for side, item in (("a", ia), ("b", ib)):
            key = "overall" if aspect == "mean" else aspect
            entry[side] = {"id": item.id, "video": item.video, "score": item_value(item, aspect, plain, kind),
                           "integer_score": values_of(item, "integer").get(key), "comment": item.comments.get(key)}
        try:
            entry["image"] = _strip(ia, ib, out / "examples" / f"example_{n:02d}.png", frames_under)
        except Exception as exc:  # a missing or undecodable video costs its thumbnails, not the report
            log.warning("example %d: %s", n, exc)
            entry["image_error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        shown.append(entry)
    return {"aspect": aspect, "a": pair[0], "b": pair[1], "items": shown}
