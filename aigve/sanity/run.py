"""``run_sanity``: make the variants, score originals and variants in one batched pass, summarise, write the report.

Cost: one scoring per clip for the original plus one per check (``rerun`` scores the original again), all
through one :meth:`aigve.evaluator.Evaluator.evaluate_many` call, so at most ``clips x (1 + checks)`` scorings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aigve.evaluator import Evaluator, VideoItem, as_item
from aigve.results import EvaluationResult
from aigve.sanity.checks import Clip, SanityCheck, Variant, resolve_checks
from aigve.sanity.report import CheckSummary, Pair, judged_aspects, overall, summarise_check

log = logging.getLogger(__name__)

#: Bumped when a built-in transform changes what it writes: variants made by an older version are then remade.
VARIANT_VERSION = 1
_SEP = "@"  # item id of a variant: "<clip id>@<check>"


@dataclass
class SanityResult:
    """Everything a sanity run found. ``checks``: one summary per check, in run order. ``judged``: aspects the
    backend scores (``judged_source`` says how that was known). ``scorings``: videos scored in all.
    ``files``: what was written (name -> path)."""

    backend: dict[str, Any]
    clips: list[str]
    checks: list[CheckSummary]
    judged: list[str]
    judged_source: str
    samples: bool
    scorings: int
    timings: dict[str, float]
    pairs: list[Pair] = field(default_factory=list)
    provenance: str | None = None
    out: str | None = None
    files: dict[str, str] = field(default_factory=dict)

    def check(self, name: str) -> CheckSummary:
        return next(c for c in self.checks if c.name == name)

    def summary(self) -> dict[str, Any]:
        """The compact form (``aigve bench --json`` embeds it): verdict and target-aspect shares per check."""
        return {"backend": self.backend.get("name"), "model": self.backend.get("model"), "clips": len(self.clips),
                "scorings": self.scorings, "judged_aspects": self.judged, "not_a_real_evaluation": self.provenance,
                "overall": overall(self.checks),
                "checks": {c.name: {"verdict": c.verdict, "expectation": c.expectation,
                                    "aspects": {a.aspect: {"verdict": a.verdict, "share": a.share, "ci_low": a.ci_low,
                                                           "ci_high": a.ci_high, "n": a.n, "mean_delta": a.mean_delta}
                                                for a in c.aspects}}
                           for c in self.checks},
                "out": self.out}

    def to_dict(self) -> dict[str, Any]:
        """Everything (metrics.json): summaries, per-clip changes, timings."""
        return {"summary": self.summary(), "backend": self.backend, "clips": self.clips,
                "judged_aspects": {"aspects": self.judged, "source": self.judged_source},
                "backend_samples": self.samples, "timings": self.timings,
                "checks": [c.to_dict() for c in self.checks], "pairs": [asdict(p) for p in self.pairs]}


def fingerprint(path: str | os.PathLike) -> str:
    """10 hex digits over the file's absolute path, size and mtime (and :data:`VARIANT_VERSION`)."""
    p = Path(path)
    try:
        st = p.stat()
        key = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}|{VARIANT_VERSION}"
    except OSError:
        key = f"{p}|missing|{VARIANT_VERSION}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]


def make_clips(items: Sequence[VideoItem]) -> list[Clip]:
    prompts = tuple(it.prompt for it in items)
    return [Clip(it.id, it.video, it.prompt, fingerprint(it.video), i, prompts) for i, it in enumerate(items)]


def make_variants(clips: Sequence[Clip], checks: Sequence[SanityCheck], folder: Path,
                  progress: Callable[[str], None] | None = None) -> dict[tuple[str, str], Variant | str]:
    """``(clip id, check) -> Variant``, or the error text when the variant could not be made (one bad clip
    never stops the others)."""
    out: dict[tuple[str, str], Variant | str] = {}
    for check in checks:
        sub = folder / check.name
        sub.mkdir(parents=True, exist_ok=True)
        if progress:
            progress(f"making {check.name} variants of {len(clips)} clip(s)")
        for clip in clips:
            try:
                out[clip.id, check.name] = check(clip, sub)
            except Exception as exc:  # noqa: BLE001 - a user check or an unreadable clip; recorded per pair
                log.warning("%s: %s variant failed: %s", clip.video, check.name, exc)
                out[clip.id, check.name] = f"{type(exc).__name__}: {exc}"
    return out


def _items(source: str | os.PathLike | Iterable[Any], uses_prompt: bool) -> list[VideoItem]:
    if isinstance(source, (str, os.PathLike)):
        from aigve.runner import collect_items

        return collect_items(source, uses_prompt=uses_prompt)
    items = [as_item(it, i) for i, it in enumerate(source)]
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        from aigve.errors import ConfigError

        dup = next(i for i in ids if ids.count(i) > 1)
        raise ConfigError("items", dup, "give every clip a unique id")
    return items


def run_sanity(source: str | os.PathLike | Iterable[Any], evaluator: Evaluator | None = None, *,
               backend: str = "signals", checks: Sequence[str] | str | None = None,
               out: str | os.PathLike = "runs/sanity", batch_size: int = 1, limit: int | None = None,
               write: bool = True, progress: Callable[[str], None] | None = None,
               **backend_options: Any) -> SanityResult:
    """Run the sanity checks on ``source`` (a video, folder or manifest, or VideoItem/dict/tuple items).

    ``evaluator``: an :class:`Evaluator` to use (else one is built: ``load_evaluator(backend, **backend_options)``).
    ``checks``: names (list or comma-separated; default all registered). ``out``: variants go to
    ``out/variants/<check>/`` (reused on a rerun), the report to ``out/sanity.md``, ``sanity.html``,
    ``metrics.json`` and every score record to ``out/scores.jsonl`` (``write=False``: variants only).
    """
    from aigve.backends.base import uses_prompt
    from aigve.core import validate

    batch_size = validate.positive_int("batch_size", batch_size)
    if evaluator is None:
        from aigve.evaluator import load_evaluator

        evaluator = load_evaluator(backend, **backend_options)
    say = progress or log.info
    chosen = resolve_checks(checks)
    items = _items(source, uses_prompt(evaluator.backend))
    if limit is not None:
        items = items[: validate.positive_int("limit", limit)]
    out_dir = Path(out)
    start = time.perf_counter()
    clips = make_clips(items)
    variants = make_variants(clips, chosen, out_dir / "variants", say)
    made_s = time.perf_counter() - start

    jobs: list[tuple[str, str | None, VideoItem]] = [(c.id, None, VideoItem(c.id, c.video, c.prompt)) for c in clips]
    for check in chosen:
        for c in clips:
            v = variants[c.id, check.name]
            if isinstance(v, Variant):
                jobs.append((c.id, check.name, VideoItem(f"{c.id}{_SEP}{check.name}", v.video, v.prompt)))
    say(f"scoring {len(clips)} clip(s) and {len(jobs) - len(clips)} variant(s) with {evaluator.backend.name}")
    score_start = time.perf_counter()
    results = list(evaluator.evaluate_many([j[2] for j in jobs], batch_size=batch_size))
    score_s = time.perf_counter() - score_start
    by_key = {(clip, check): r for (clip, check, _), r in zip(jobs, results, strict=True)}

    described = evaluator.describe()
    originals = [by_key[c.id, None] for c in clips]
    judged, judged_source = judged_aspects(described.get("scored_aspects"),
                                           [r.scores for r in originals if r.ok])
    samples = bool((described.get("generation") or {}).get("do_sample"))
    pairs_by_check = {check.name: [_pair(c, check.name, by_key, variants) for c in clips] for check in chosen}
    summaries = [summarise_check(check.name, check.description, check.expectation, pairs_by_check[check.name],
                                 judged=judged, samples=samples, group=check.group) for check in chosen]
    result = SanityResult(
        backend=described, clips=[c.id for c in clips], checks=summaries, judged=judged, judged_source=judged_source,
        samples=samples, scorings=len(jobs),
        timings={"variants_s": round(made_s, 3), "scoring_s": round(score_s, 3),
                 "per_scoring_s": round(score_s / max(1, len(jobs)), 4)},
        pairs=[p for ps in pairs_by_check.values() for p in ps], provenance=_provenance(described), out=str(out_dir))
    if write:
        from aigve.sanity.render import write_report

        _write_scores(out_dir / "scores.jsonl", jobs, results)
        result.files = write_report(result, out_dir, {c.id: c for c in clips}, variants)
        result.files["scores"] = str(out_dir / "scores.jsonl")
    return result


def _pair(clip: Clip, check: str, by_key: dict, variants: dict) -> Pair:
    v = variants[clip.id, check]
    if not isinstance(v, Variant):
        return Pair(clip.id, check, error=f"variant not made: {v}")
    orig, var = by_key[clip.id, None], by_key[clip.id, check]
    for side, r in (("original", orig), ("variant", var)):
        if not r.ok:
            return Pair(clip.id, check, error=f"{side} not scored: {(r.error or {}).get('message')}", note=v.note)
    return Pair(clip.id, check, dict(orig.scores), dict(var.scores), dict(orig.expected_scores),
                dict(var.expected_scores), note=v.note)


def _provenance(described: dict[str, Any]) -> str | None:
    from aigve.report.provenance import backend_problem  # the one "is this a real evaluation" rule

    return backend_problem(described)


def _write_scores(path: Path, jobs: Sequence[tuple[str, str | None, VideoItem]],
                  results: Sequence[EvaluationResult]) -> None:
    from aigve.results import write_text_atomic

    lines = []
    for (clip, check, _), r in zip(jobs, results, strict=True):
        record = r.to_record()
        record["sanity"] = {"clip": clip, "check": check}
        lines.append(json.dumps(record, default=str))
    write_text_atomic(path, "\n".join(lines) + "\n")
