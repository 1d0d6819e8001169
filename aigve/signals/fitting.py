"""Calibrate the signals backend from files: a results JSONL of a ``signals`` run + human scores.

    from aigve.signals.fitting import calibrate_from_files
    cal = calibrate_from_files("runs/signals.jsonl", "human.json", "signals-calibration.json")
    SignalsBackend(calibration="signals-calibration.json")

Results and annotations are matched by id, then by video file name, then by file stem.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from aigve.errors import InputError
from aigve.signals.calibration import Calibration, fit_calibration

logger = logging.getLogger(__name__)


def _keys(ident: Any, video: Any) -> list[str]:
    out = [f"id:{ident}"] if ident not in (None, "") else []
    if video:
        out += [f"name:{Path(str(video)).name}", f"stem:{Path(str(video)).stem}"]
    return out


def paired_measurements(results_path: str | os.PathLike, annotations_path: str | os.PathLike, *,
                        video_dir: str | os.PathLike | None = None) -> tuple[list[dict], list[dict], list[str]]:
    """(measurements, human scores, ids) for every video present in both files.

    Only successful result records carrying ``extra["measurements"]`` (written by the signals
    backend) are used; the last record per id wins. Raises InputError when nothing matches.
    """
    from aigve.annotations import load_annotations
    from aigve.results import iter_records, latest_by_id

    index: dict[str, dict[str, Any]] = {}
    for record in latest_by_id(iter_records(results_path)).values():
        measurements = (record.get("extra") or {}).get("measurements")
        if record.get("error") is None and isinstance(measurements, dict):
            for key in _keys(record.get("id"), record.get("video")):
                index.setdefault(key, record)
    meas, human, ids = [], [], []
    for ann in load_annotations(annotations_path, video_dir=video_dir):
        record = next((index[k] for k in _keys(ann.id, ann.video) if k in index), None)
        if record is None or not ann.scores:
            continue
        meas.append(record["extra"]["measurements"])
        human.append(dict(ann.scores))
        ids.append(str(record.get("id")))
    if not meas:
        raise InputError(annotations_path, f"no video matches a signals result in {results_path} (by id, file name "
                                           "or stem); score the annotated videos with --backend signals first")
    logger.info("matched %d annotated videos with signals results", len(meas))
    return meas, human, ids


def calibrate_from_files(results_path: str | os.PathLike, annotations_path: str | os.PathLike,
                         out_path: str | os.PathLike | None = None, *, video_dir: str | os.PathLike | None = None,
                         **fit_options: Any) -> Calibration:
    """Fit a calibration (see :func:`fit_calibration`, whose options pass through) and save it to
    ``out_path`` when given."""
    meas, human, _ = paired_measurements(results_path, annotations_path, video_dir=video_dir)
    fit_options.setdefault("source", f"fitted to {len(meas)} videos of {Path(annotations_path).name}")
    calibration = fit_calibration(meas, human, **fit_options)
    if out_path is not None:
        calibration.save(out_path)
    return calibration
