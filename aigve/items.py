"""What a scoring run is made of, item by item: a :class:`VideoItem` (one video, or a pair for a pairwise judge)
and its decoding into sampled frames (:class:`~aigve.media.SampledVideo` / :class:`~aigve.media.SampledPair`),
where a failure becomes an error record instead of an exception. The evaluator (:mod:`aigve.evaluator`) drives
these through a backend."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from aigve.config import SamplingConfig
from aigve.errors import AigveError
from aigve.media import SampledPair, SampledVideo, VideoInfo
from aigve.results import EvaluationResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoItem:
    """One video to score. ``id`` is unique within a run; ``row`` is its manifest row when known; ``meta``:
    the manifest's other columns as ``(name, text)`` pairs (a tuple, so the item stays hashable), copied into
    the record's ``meta``. ``second``: the other video of a pair (B; ``video`` is A), for a pairwise judge
    (a backend with ``videos_per_item`` 2), which then gets both as one :class:`~aigve.media.SampledPair`."""

    id: str
    video: str
    prompt: str
    row: int | None = None
    meta: tuple[tuple[str, str], ...] = ()
    second: str | None = None


def as_item(item: VideoItem | dict | tuple | str, index: int = 0) -> VideoItem:
    """Accept a VideoItem, a ``{"video", "prompt", "id"?}`` dict, a ``(video, prompt)`` tuple or a path."""
    if isinstance(item, VideoItem):
        return item
    if isinstance(item, dict):
        video, prompt = str(item["video"]), str(item.get("prompt") or "")
        ident = item.get("id")
    elif isinstance(item, tuple):
        video, prompt = str(item[0]), str(item[1] if len(item) > 1 else "")
        ident = item[2] if len(item) > 2 else None
    else:
        video, prompt, ident = str(item), "", None
    return VideoItem(id=str(ident) if ident is not None else os.path.splitext(os.path.basename(video))[0] or str(index),
                     video=video, prompt=prompt)


#: What a decoded item is: one sampled video, or a pair of them for a pairwise judge.
SAMPLED = (SampledVideo, SampledPair)


def decode_item(item: VideoItem, cfg: SamplingConfig, info: VideoInfo | None = None
                ) -> SampledVideo | SampledPair | EvaluationResult:
    """Decode and sample one item under ``cfg`` (both videos of a pair, under the same rules); a failure is an
    error record (stage ``decode``) naming the file that failed, never raised."""
    from aigve.video import load_video

    path = item.video
    try:
        first = load_video(item.video, cfg, info=info)
        if item.second is None:
            return first
        path = item.second
        return SampledPair(first, load_video(item.second, cfg))
    except (AigveError, OSError, ValueError, RuntimeError) as exc:
        log.warning("%s", exc if str(path) in str(exc) else f"{path}: {exc}")
        return EvaluationResult.failed(item.id, item.video, item.prompt, exc, stage="decode", second=item.second)


def count_mismatch(item: VideoItem, wanted: int, judge: str) -> EvaluationResult | None:
    """An error record for an item with another number of videos than the judge compares (never sent to it)."""
    has = 1 if item.second is None else 2
    if has == wanted:
        return None
    from aigve.errors import InputError

    why = (f"the judge ({judge}) compares two videos per item; give the pair's other video as `second`"
           if wanted == 2 else
           f"this item is a pair (second video {item.second}) but the judge ({judge}) scores one video per item; "
           "use a pairwise judge profile")
    return EvaluationResult.failed(item.id, item.video, item.prompt, InputError(item.video, why), stage="input",
                                   second=item.second)
