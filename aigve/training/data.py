"""Training data: annotations -> validated examples -> deterministic splits by prompt -> a torch Dataset.

Annotation files are read by :func:`aigve.annotations.load_annotations` (AIGVE-Bench v1 JSON, v2 with
comments, JSONL, CSV). Splits are decided by a hash of the *normalised prompt text*, so all videos of
one prompt (AIGVE-Bench rates several generators per prompt) land in the same split, and the split of
a prompt never changes when the file grows or is reordered.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aigve.annotations import Annotation
from aigve.aspects import ASPECT_KEYS
from aigve.config import SamplingConfig
from aigve.errors import InputError
from aigve.prompt import format_answer

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass
class TrainingExample:
    """One video with its prompt and human ratings. ``scores``: canonical key -> int 0-5."""

    id: str
    video: str
    prompt: str
    scores: dict[str, int]
    comments: dict[str, str] = field(default_factory=dict)
    split: str = "train"
    row: int | None = None

    def target(self, *, released_keys: bool = True, ensure_ascii: bool = False) -> str:
        """The answer the model is trained to write (see :func:`aigve.prompt.format_answer`).

        Comments come before scores. Where the data has no comment for an aspect (AIGVE-Bench v1),
        that aspect's entry holds the score only: ``{"score": n}``.
        """
        return format_answer(self.scores, self.comments, released_keys=released_keys, ensure_ascii=ensure_ascii)


@dataclass
class SkippedEntry:
    """An entry left out with ``skip_bad``: where it was and why."""

    id: str | None
    row: int | None
    reason: str


@dataclass
class LoadedData:
    examples: list[TrainingExample]
    skipped: list[SkippedEntry]


def normalise_prompt(text: str) -> str:
    """Prompt text as used for splitting: NFKC, lower case, one space between words, no edge punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\s+", " ", text)
    return text.strip(" \t\n.,;:!?\"'")


def split_of(prompt: str, *, val_fraction: float, test_fraction: float, salt: str = "aigve-v1") -> str:
    """``train``/``val``/``test`` for a prompt: the first 8 bytes of ``sha256(salt + normalised prompt)``
    as a number u in [0, 1); u < test_fraction -> test, < test + val -> val, else train."""
    digest = hashlib.sha256(f"{salt}\n{normalise_prompt(prompt)}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


def load_examples(
    path: str | os.PathLike,
    *,
    video_dir: str | os.PathLike | None = None,
    skip_bad: bool = False,
    require_all_aspects: bool = True,
    probe_videos: bool = True,
) -> LoadedData:
    """Read an annotation file and check every entry is trainable.

    An entry needs a prompt, a video file that exists (and opens, with ``probe_videos``) and integer-
    roundable scores (all nine with ``require_all_aspects``). Averaged ratings (floats) are rounded half
    up. Without ``skip_bad`` the first bad entry raises InputError naming the file, row, entry id and the
    missing field or file; with it, bad entries (including rows the annotation parser rejects) are
    collected in ``skipped`` and the rest are returned.
    """
    path = Path(path)
    annotations, skipped = _read_annotations(path, video_dir, skip_bad)
    base = Path(video_dir) if video_dir else path.parent
    for ann in annotations:
        if ann.video and not Path(ann.video).suffix:
            ann.video = _resolve_bare(ann.video, base)
    examples: list[TrainingExample] = []
    problems = _video_problems([a for a in annotations if a.video], probe_videos)
    for ann in annotations:
        reason = _entry_problem(ann, require_all_aspects) or problems.get(ann.id)
        if reason:
            if not skip_bad:
                raise InputError(path, f"entry {ann.id!r}: {reason} (`skip_bad` skips such entries)", row=ann.row)
            skipped.append(SkippedEntry(ann.id, ann.row, reason))
            continue
        scores = {k: int(math.floor(v + 0.5)) for k, v in ann.scores.items()}
        examples.append(TrainingExample(ann.id, str(ann.video), str(ann.prompt), scores, dict(ann.comments), row=ann.row))
    if not examples:
        raise InputError(path, f"no usable entries ({len(skipped)} skipped)")
    if skipped:
        logger.warning("%s: skipped %d bad entr%s", path, len(skipped), "y" if len(skipped) == 1 else "ies")
    return LoadedData(examples, skipped)


def _read_annotations(path: Path, video_dir, skip_bad: bool) -> tuple[list[Annotation], list[SkippedEntry]]:
    from aigve import annotations as ann_mod

    if not skip_bad:
        try:
            return ann_mod.load_annotations(path, video_dir=video_dir), []
        except InputError as exc:
            if exc.row is None:  # the file itself is unreadable: skipping entries would not help
                raise
            raise InputError(exc.path, f"{exc.problem} (`skip_bad` skips such entries)", row=exc.row) from None
    skipped: list[SkippedEntry] = []

    def skip(exc: InputError, entry: dict) -> None:
        ident = entry.get("id")
        skipped.append(SkippedEntry(str(ident) if ident is not None else None, exc.row, exc.problem))

    return ann_mod.load_annotations(path, video_dir=video_dir, on_error=skip), skipped


def _resolve_bare(name: str, base: Path) -> str:
    """A video named without extension (``cogvideox_0``): the first ``base/name.<ext>`` that exists."""
    from aigve.video import VIDEO_EXTENSIONS

    p = Path(name) if Path(name).is_absolute() else base / name
    for ext in VIDEO_EXTENSIONS:
        if p.with_name(p.name + ext).is_file():
            return str(p.with_name(p.name + ext))
    return str(p)


def _entry_problem(ann: Annotation, require_all: bool) -> str | None:
    if not ann.prompt or not str(ann.prompt).strip():
        return "no prompt (expected a 'prompt_gt' or 'prompt' field)"
    if not ann.video:
        return "no video field (expected 'video_path_pd' or 'video')"
    if not ann.scores:
        return "no aspect scores"
    missing = [k for k in ASPECT_KEYS if k not in ann.scores]
    if require_all and missing:
        return f"missing scores for {', '.join(missing)} (or set require_all_aspects: false)"
    return None


def _video_problems(annotations: Sequence[Annotation], probe: bool) -> dict[str, str]:
    """id -> problem for videos that are missing or (with ``probe``) cannot be opened."""
    out: dict[str, str] = {}
    todo = []
    for ann in annotations:
        if not Path(str(ann.video)).is_file():
            out[ann.id] = f"video not found: {ann.video}{_video_dir_hint(Path(str(ann.video)))}"
        else:
            todo.append(ann)
    if not probe or not todo:
        return out
    from concurrent.futures import ThreadPoolExecutor

    from aigve.errors import AigveError
    from aigve.video import probe as probe_video

    def check(ann: Annotation) -> tuple[str, str | None]:
        try:
            probe_video(str(ann.video))
        except (AigveError, OSError, ValueError) as exc:
            return ann.id, f"video cannot be opened: {exc}"
        return ann.id, None

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for ident, problem in pool.map(check, todo):
            if problem:
                out[ident] = problem
    return out


def _video_dir_hint(video: Path) -> str:
    """AIGVE-Bench keeps videos in a folder next to the JSON: name it when the file is found there."""
    try:
        for sub in sorted(p for p in video.parent.iterdir() if p.is_dir()):
            if (sub / video.name).is_file():
                return f" (a file of that name is in {sub}: set `video_dir={sub}`)"
    except OSError:
        pass
    return ""


def assign_splits(examples: list[TrainingExample], *, val_fraction: float, test_fraction: float,
                  salt: str = "aigve-v1") -> dict[str, list[TrainingExample]]:
    """Set ``example.split`` by prompt hash and group examples by split (file order kept)."""
    groups: dict[str, list[TrainingExample]] = {name: [] for name in SPLITS}
    for ex in examples:
        ex.split = split_of(ex.prompt, val_fraction=val_fraction, test_fraction=test_fraction, salt=salt)
        groups[ex.split].append(ex)
    return groups


def split_manifest(groups: dict[str, list[TrainingExample]], *, salt: str) -> dict[str, Any]:
    """What ``data_splits.json`` records: per split the counts, a sha256 of the sorted ids, and the ids."""
    out: dict[str, Any] = {"method": "sha256(salt + normalised prompt)", "salt": salt}
    for name, items in groups.items():
        ids = sorted(ex.id for ex in items)
        out[name] = {
            "count": len(items),
            "prompts": len({normalise_prompt(ex.prompt) for ex in items}),
            "sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest(),
            "ids": ids,
        }
    return out


class VideoExampleDataset(torch.utils.data.Dataset):
    """Decodes each example's video with the evaluator's sampler (token budget included).

    Items are dicts ``{"id", "video": SampledVideo, "prompt", "answer", "scores"}``. With
    ``sampling.jitter > 0`` the frame positions move randomly within their intervals, seeded by
    (``sampling.seed``, example id, epoch) so a run is reproducible and each epoch sees new frames.
    Call :meth:`set_epoch` at each epoch start (the trainer does).
    """

    def __init__(self, examples: Sequence[TrainingExample], sampling: SamplingConfig, *, released_keys: bool = True,
                 ensure_ascii: bool = False):
        self.examples = list(examples)
        self.sampling = sampling
        self.released_keys = released_keys
        self.ensure_ascii = ensure_ascii  # the judge profile's serialiser (macs-card: ASCII escapes)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.examples)

    def rng_for(self, index: int) -> np.random.Generator:
        ex = self.examples[index]
        return np.random.default_rng([self.sampling.seed, zlib.crc32(ex.id.encode()), self.epoch])

    def __getitem__(self, index: int) -> dict[str, Any]:
        from aigve.video import load_video

        ex = self.examples[index]
        rng = self.rng_for(index) if self.sampling.jitter > 0 else None
        video = load_video(ex.video, self.sampling, rng=rng)
        return {"id": ex.id, "video": video, "prompt": ex.prompt,
                "answer": ex.target(released_keys=self.released_keys, ensure_ascii=self.ensure_ascii),
                "scores": dict(ex.scores)}
