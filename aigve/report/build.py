"""``build_report``: score files (+ human file) -> report.md, report.html, metrics.json, metrics.csv, plots/."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigve.annotations import Annotation, load_annotations
from aigve.errors import ConfigError, InputError
from aigve.report.compute import Computed, compute
from aigve.report.inputs import ScoreFile, default_names, load_scores, parse_system_arg

log = logging.getLogger(__name__)

ScoreSpec = str | os.PathLike | tuple[str, str | os.PathLike]


@dataclass
class Report:
    """What :func:`build_report` produced: the metrics dict (as in metrics.json) and the files written."""

    metrics: dict[str, Any]
    out_dir: Path | None
    files: dict[str, Path] = field(default_factory=dict)


def load_systems(scores: Sequence[ScoreSpec]) -> list[ScoreFile]:
    """Read score files given as paths, ``"name=path"`` strings or ``(name, path)`` tuples.
    Unnamed files are named by file stem; names must be unique."""
    if not scores:
        raise ConfigError("scores", scores, "give at least one score file (`scores=results.jsonl`)")
    named: list[tuple[str | None, Path]] = []
    for spec in scores:
        if isinstance(spec, tuple):
            named.append((spec[0], Path(spec[1])))
        else:
            named.append(parse_system_arg(os.fspath(spec)))
    defaults = default_names([p for _, p in named])
    names = [n or d for (n, _), d in zip(named, defaults, strict=True)]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError("scores", sorted(dupes), "system names must be unique: use `scores=NAME=PATH`")
    return [load_scores(path, name) for name, (_, path) in zip(names, named, strict=True)]


def use_score_kind(system: ScoreFile, kind: str = "auto") -> str:
    """Switch ``system``'s records to expected scores when ``kind`` asks for them (``auto``: when every
    scored record has an expected score for each aspect it scores); returns the kind used."""
    if kind not in ("auto", "expected", "integer"):
        raise ConfigError("score_kind", kind, "use auto, expected or integer")
    scored = [r for r in system.records if r.scores]
    complete = bool(scored) and all(set(r.scores) <= set(r.expected) for r in scored)
    if kind == "expected" and not complete:
        raise ConfigError("score_kind", kind, f"{system.name}: some scored records have no expected scores; "
                                              "use integer or auto")
    if kind == "integer" or not complete:
        return "integer"
    for r in scored:
        r.scores = {k: r.expected[k] for k in r.scores}
    return "expected"


def _plots(computed: Computed, out: Path, seed: int) -> dict[str, str]:
    from aigve.report import plots

    metrics, made = computed.metrics, {}
    folder = out / "plots"
    for i, (name, vectors) in enumerate(computed.vectors.items()):
        srcc = {a: st["srcc"]["value"] for a, st in metrics["agreement"][name].items()}
        path = plots.scatter(vectors, srcc, folder / f"scatter_{i}.png", title=f"{name}: model vs human (jittered)",
                             seed=seed)
        made[f"{name}: scatter"] = path
        series = {"human": {a: v[1] for a, v in vectors.items()}, "model": {a: v[2] for a, v in vectors.items()}}
        made[f"{name}: histograms"] = plots.histograms(series, folder / f"hist_{i}.png",
                                                      title=f"{name}: human vs model scores (matched items)")
    if metrics.get("agreement"):
        made["SRCC per aspect and system"] = plots.srcc_bars(metrics["agreement"], metrics["aspects"],
                                                             folder / "srcc.png")
    for i, (name, by_aspect) in enumerate(computed.model_only.items()):
        if by_aspect:
            made[f"{name}: score histograms"] = plots.histograms({"model": by_aspect}, folder / f"dist_{i}.png",
                                                                 title=f"{name}: model score distribution")
    return {k: str(p.relative_to(out)) for k, p in made.items()}


def build_report(scores: Sequence[ScoreSpec], human: str | os.PathLike | Sequence[Annotation] | None = None,
                 out: str | os.PathLike | None = None, *, group_by: str | None = None, n_boot: int = 1000,
                 seed: int = 0, zero_as_na: bool = False, embeddings: bool = True, plots: bool = True,
                 level: float = 0.95, video_dir: str | os.PathLike | None = None,
                 title: str = "aigve benchmark report", path_labels: Mapping[str, str] | None = None,
                 cluster_by: str | None = "auto", score_kind: str = "auto") -> Report:
    """Compare one or more systems' scores with human scores and write the report.

    ``scores``: paths (named by file stem), ``"name=path"`` or ``(name, path)``. ``human``: an annotation
    file (see :func:`aigve.annotations.load_annotations`), already loaded annotations, or None for a
    model-only report (score distributions). ``out``: folder for report.md, report.html, metrics.json,
    metrics.csv and plots/*.png; None computes the metrics only. Raises InputError for bad files and
    ConfigError for bad options. ``path_labels``: input path -> how the report names that file (the web UI
    shows an upload's own name, never the server's temporary folder); other files are shown as given.
    ``cluster_by``: column whose values are the bootstrap's clusters; ``"auto"`` (default): ``prompt`` when the
    human file has prompts, else single items; None or ``"none"``: single items. ``score_kind``: ``auto``
    (default) compares a system's expected scores (the judge's digit probabilities) when every scored record
    has them, else its integer scores; ``expected``/``integer`` force one (see :func:`use_score_kind`).
    """
    from aigve import __version__

    if n_boot < 0:
        raise ConfigError("bootstrap", n_boot, "use 0 (no CIs) or a positive number of resamples, e.g. 1000")
    if not 0 < level < 1:
        raise ConfigError("level", level, "use a confidence level between 0 and 1, e.g. 0.95")
    if out is not None and Path(out).exists() and not Path(out).is_dir():  # fail before the (slow) metrics
        raise ConfigError("out", str(out), "is a file; give `out` a folder")
    systems = load_systems(scores)
    kinds = {s.name: use_score_kind(s, score_kind) for s in systems}
    labels = {str(Path(k)): v for k, v in (path_labels or {}).items()}
    for s in systems:
        s.label = labels.get(str(s.path))
    human_path = None
    if isinstance(human, (str, os.PathLike)):
        human_path = Path(human)
        annotations = load_annotations(human_path, video_dir=video_dir)
    else:
        annotations = list(human) if human is not None else None
    if annotations is not None and not annotations:
        raise InputError(human_path or "human", "no human annotations")
    if cluster_by == "auto":
        cluster_by = "prompt" if annotations and any(a.prompt for a in annotations) else None
    computed = compute(systems, annotations, group_by=group_by, n_boot=n_boot, seed=seed,
                       zero_as_na=zero_as_na, level=level, embeddings=embeddings,
                       cluster_by=None if cluster_by in (None, "", "none") else cluster_by)
    metrics = {"schema": "aigve-report/1", "aigve_version": __version__,
               "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **computed.metrics}
    metrics["settings"]["score_kind"] = kinds
    metrics["notes"].extend(f"{name}: compared on {kind} scores" + (" (the judge's digit-probability expected "
                            "scores)" if kind == "expected" else "") for name, kind in kinds.items())
    if metrics.get("human") is not None:
        metrics["human"]["path"] = labels.get(str(human_path), str(human_path)) if human_path else None
    report = Report(metrics, Path(out) if out is not None else None)
    if out is None:
        return report
    try:
        report.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(report.out_dir, f"cannot create the report folder ({exc.strerror or exc}); choose another `out`") \
            from None
    computed.metrics = metrics
    metrics["plots"] = _plots(computed, report.out_dir, seed) if plots else {}
    from aigve.report.render import write_all

    report.files = write_all(metrics, report.out_dir, title=title)
    report.files.update({k: report.out_dir / v for k, v in metrics["plots"].items()})
    return report
