"""A benchmark run: the benchmark's videos as a scoring run's items (scored and resumed by
:mod:`aigve.run.batch`, results.jsonl by id), then the benchmark's official metric over the records into
``metrics.json`` with bootstrap 95% CIs (items resampled, :mod:`aigve.core.stats`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from aigve.benchmarks import mapping as M
from aigve.benchmarks import metrics as X
from aigve.benchmarks.dataset import Loaded

METRICS_NAME = "metrics.json"
#: pointwise metrics per benchmark, in the published column order
POINTWISE = {"videoscore-bench-v2": ("accuracy", "within1", "plcc"), "t2vqa-db": ("srcc", "plcc"),
             "videophy2-test": ("accuracy", "within1", "srcc", "plcc"),
             "aigve-bench": ("srcc", "plcc", "accuracy", "within1")}
#: benchmarks whose papers print the mean over dimensions ("Avg") of each metric: an ``avg`` column, computed over
#: the videos scored on every dimension (so its bootstrap resamples videos, not cells)
AVERAGED = {"videoscore-bench-v2": ("visual_score", "t2v_score", "phy_score"), "videophy2-test": ("sa", "pc")}
#: benchmarks whose harness counts an answer without a readable score as 0 (wrong, and in the correlation):
#: the VideoScore2 harness appends 0 when its score pattern does not match (eval/get_acc_corr.py)
MISSING_AS_ZERO = frozenset({"videoscore-bench-v2"})


def items(loaded: Loaded, *, pairs: bool = False) -> list:
    """The benchmark's work as :class:`aigve.evaluator.VideoItem`: one per distinct video and prompt, or with
    ``pairs`` (a pairwise judge, shown both videos) one per human comparison, ``id`` = the pair's id, ``video`` =
    A and ``second`` = B, so the record carries the judge's own A/B/same (``preference``)."""
    from aigve.errors import ConfigError
    from aigve.evaluator import VideoItem

    meta = (("benchmark", loaded.name),)
    if not pairs:
        return [VideoItem(v.id, v.path, v.prompt, meta=meta) for v in loaded.videos]
    if loaded.kind != "pairwise":
        raise ConfigError("profile", "pairwise judge", f"{loaded.name} scores single videos (human scores per video), "
                          "and a pairwise judge answers only for pairs: run it on videogen-rewardbench or "
                          "genai-bench-video, or choose a scoring profile")
    by_id = {v.id: v for v in loaded.videos}
    return [VideoItem(p.id, by_id[p.a].path, by_id[p.a].prompt, meta=meta, second=by_id[p.b].path)
            for p in loaded.pairs]


def _boot(fn: Callable[..., float | None], arrays: Sequence[np.ndarray], n_boot: int, seed: int
          ) -> tuple[float | None, float | None]:
    """Percentile 95% CI of ``fn(*arrays)`` over ``n_boot`` resamples of the items (rows) with replacement."""
    from aigve.core.stats import cluster_bootstrap_weights, percentile_interval

    n = len(arrays[0]) if arrays else 0
    if n_boot <= 0 or n < 2:
        return None, None
    weights = cluster_bootstrap_weights(n, n_boot, seed)
    reps = []
    for w in weights:
        idx = np.repeat(np.arange(n), w.astype(int))
        value = fn(*(a[idx] for a in arrays))
        reps.append(np.nan if value is None else value)
    return percentile_interval(np.array(reps, float))


def _cell(fn: Callable[..., float | None], arrays: Sequence[np.ndarray], n_boot: int, seed: int) -> dict[str, Any]:
    value = fn(*arrays) if len(arrays[0]) else None
    lo, hi = _boot(fn, arrays, n_boot, seed) if value is not None else (None, None)
    return {"value": value, "ci": [lo, hi], "n": int(len(arrays[0]))}


def compute(loaded: Loaded, records: Sequence[Mapping[str, Any]], *, mapping: str | None = None,
            n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The benchmark's metrics from results ``records`` (per-video score records, or pair records carrying
    ``preference`` for pairwise judges). Values are None (``undefined``) when they cannot be computed."""
    by_id = {str(r.get("id")): r for r in records}
    scored = [r for r in records if not r.get("error")]
    # the record that picks the mapping: one with soft scores when the run has any (an entry may read them)
    first = next((r for r in scored if any(v is not None for v in (r.get("expected_scores") or {}).values())),
                 scored[0] if scored else None)
    entry_name, entry = M.mapping_for(first, mapping)
    out: dict[str, Any] = {"benchmark": loaded.name, "kind": loaded.kind, "source": loaded.source,
                           "notes": list(loaded.notes), "mapping": entry_name, "bootstrap": n_boot, "seed": seed,
                           "n_videos": len(loaded.videos), "n_pairs": len(loaded.pairs),
                           "n_scored": sum(1 for i in {v.id for v in loaded.videos} | {p.id for p in loaded.pairs}
                                           if i in by_id and not by_id[i].get("error")),
                           "judge": _judge(first), "metrics": {}, "columns": []}
    if loaded.kind == "pairwise":
        _pairwise(loaded, by_id, entry, out, n_boot, seed)
    else:
        _pointwise(loaded, by_id, entry, out, n_boot, seed)
    return out


def _judge(record: Mapping[str, Any] | None) -> dict[str, Any]:
    backend = (record or {}).get("backend") or {}
    return {k: backend.get(k) for k in ("name", "model", "profile", "provenance") if k in backend}


def _pairwise(loaded: Loaded, by_id: Mapping[str, Mapping[str, Any]], entry: Mapping[str, Any], out: dict[str, Any],
              n_boot: int, seed: int) -> None:
    for dim in loaded.dimensions:
        mapped = loaded.dimension_map[dim]
        human, answer, as_labels = [], [], False
        for p in loaded.pairs:
            if dim not in p.labels:
                continue
            pref = M.judge_preference(by_id.get(p.id, {}), (dim, mapped))
            if pref is not None:  # a pairwise judge's own answer for this pair
                human.append(p.labels[dim])
                answer.append(pref)
                as_labels = True
                continue
            a = M.judge_value(by_id.get(p.a, {}), mapped, entry) if p.a in by_id else None
            b = M.judge_value(by_id.get(p.b, {}), mapped, entry) if p.b in by_id else None
            if a is not None and b is not None:
                human.append(p.labels[dim])
                answer.append(a - b)  # equal scores: a model tie ("same")
        h, m = np.array(human, float), np.array(answer, float)
        if as_labels:  # a pairwise judge's own A/B/same: plain agreement, nothing to calibrate
            with_ties = partial(X.pairwise_with_ties, labels=True)
        else:
            with_ties = partial(X.pairwise_fixed_tie, threshold=float(entry.get("tie_threshold", 0)))
        out["metrics"][dim] = {
            "with_ties": _cell(with_ties, [h, m], n_boot, seed),
            "without_ties": _cell(X.pairwise_without_ties, [h, m], n_boot, seed),
            "with_ties_calibrated": _cell(partial(X.pairwise_with_ties, labels=as_labels), [h, m], n_boot, seed),
            "answer": "labels" if as_labels else "score differences"}
        out["columns"] += [[dim, "with_ties"], [dim, "without_ties"], [dim, "with_ties_calibrated"]]


def _model_value(loaded: Loaded, record: Mapping[str, Any] | None, dim: str, entry: Mapping[str, Any]) -> float | None:
    """The judge's score on benchmark dimension ``dim`` for one video record; a scored record without it counts
    as 0 where the benchmark's harness does so (:data:`MISSING_AS_ZERO`), else None (left out)."""
    if not record:
        return None
    value = M.judge_value(record, loaded.dimension_map[dim], entry)
    if value is None and loaded.name in MISSING_AS_ZERO and not record.get("error"):
        return 0.0
    return value


def _pointwise(loaded: Loaded, by_id: Mapping[str, Mapping[str, Any]], entry: Mapping[str, Any], out: dict[str, Any],
               n_boot: int, seed: int) -> None:
    low, high = loaded.scale or (0, 5)
    fns = {"accuracy": lambda h, m: X.exact_accuracy(h, m, low, high),
           "within1": lambda h, m: X.within_one_accuracy(h, m, low, high), "plcc": X.plcc, "srcc": X.srcc}
    # AIGVE-Bench rates physics 1/3/5 only: the model's score is bucketed first (as the VideoScore2 harness does)
    physics = {"accuracy": lambda h, m: X.exact_accuracy(h, X.bucket_135(m), 1, 5),
               "within1": lambda h, m: X.within_one_accuracy(h, X.bucket_135(m), 1, 5)}
    for dim in loaded.dimensions:
        human, model = [], []
        for p in loaded.points:
            value = _model_value(loaded, by_id.get(p.video), dim, entry)
            if value is not None and dim in p.human:
                human.append(p.human[dim])
                model.append(value)
        arrays = [np.array(human, float), np.array(model, float)]
        chosen = {**fns, **physics} if loaded.name == "aigve-bench" and dim == "physics" else fns
        out["metrics"][dim] = {name: _cell(chosen[name], arrays, n_boot, seed) for name in POINTWISE[loaded.name]}
        out["columns"] += [[dim, name] for name in POINTWISE[loaded.name]]
    if loaded.name in AVERAGED:
        _averaged(loaded, by_id, entry, out, fns, n_boot, seed)
    if loaded.name == "videophy2-test":
        _joint(loaded, by_id, entry, out, n_boot, seed)


def _averaged(loaded: Loaded, by_id: Mapping[str, Mapping[str, Any]], entry: Mapping[str, Any], out: dict[str, Any],
              fns: Mapping[str, Callable[..., float | None]], n_boot: int, seed: int) -> None:
    """The papers' "Avg": each metric's mean over :data:`AVERAGED` dimensions, on the videos scored on all of
    them (arrays (n, D): the bootstrap resamples videos, keeping each video's dimensions together)."""
    dims = AVERAGED[loaded.name]
    rows_h, rows_m = [], []
    for p in loaded.points:
        values = [_model_value(loaded, by_id.get(p.video), d, entry) for d in dims]
        if all(v is not None for v in values) and all(d in p.human for d in dims):
            rows_h.append([p.human[d] for d in dims])
            rows_m.append(values)
    arrays = [np.array(rows_h, float).reshape(-1, len(dims)), np.array(rows_m, float).reshape(-1, len(dims))]

    def mean_of(fn: Callable[..., float | None]) -> Callable[..., float | None]:
        def avg(h: np.ndarray, m: np.ndarray) -> float | None:
            values = [fn(h[:, j], m[:, j]) for j in range(h.shape[1])]
            return None if any(v is None for v in values) else float(np.mean(values))
        return avg

    out["metrics"]["avg"] = {name: _cell(mean_of(fns[name]), arrays, n_boot, seed) for name in POINTWISE[loaded.name]}
    out["columns"] += [["avg", name] for name in POINTWISE[loaded.name]]


def _joint(loaded: Loaded, by_id: Mapping[str, Mapping[str, Any]], entry: Mapping[str, Any], out: dict[str, Any],
           n_boot: int, seed: int) -> None:
    rows = []
    for p in loaded.points:
        rec = by_id.get(p.video, {})
        sa, pc = (M.judge_value(rec, loaded.dimension_map[d], entry) if rec else None for d in ("sa", "pc"))
        if sa is not None and pc is not None:
            rows.append((p.human["sa"], p.human["pc"], sa, pc))
    arrays = [np.array(col, float) for col in zip(*rows, strict=True)] if rows else [np.zeros(0)] * 4
    out["metrics"]["joint"] = {"accuracy": _cell(X.joint_accuracy, arrays, n_boot, seed)}
    out["columns"].append(["joint", "accuracy"])


def write_metrics(result: Mapping[str, Any], out_dir: str | os.PathLike) -> Path:
    """``OUT/metrics.json`` (atomically: through a temporary file and a rename)."""
    from aigve.run.folder import writing

    path = Path(out_dir) / METRICS_NAME
    tmp = path.with_suffix(".json.tmp")
    with writing(tmp):
        tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
