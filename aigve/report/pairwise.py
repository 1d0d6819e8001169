"""Pairwise judging from per-video scores: which of two videos for one prompt the judge prefers, and, with
human labels, its accuracy as VideoGen-RewardBench computes it (:mod:`aigve.core.stats`).

A pairs manifest (CSV or JSONL) has ``a``, ``b`` (video paths, relative to the manifest's folder), ``prompt``,
optional ``id`` and ``label`` in {a, b, tie} (the humans' overall preference) and optional per-aspect labels
``label_<aspect>``. Each video is scored once (per prompt) by the normal evaluator; a preference per aspect is
``a`` when ``score_a - score_b > tie_margin``, ``b`` when below ``-tie_margin``, else ``tie``. "overall" is the
judge's own overall aspect when it scores one, else the mean of the aspects both videos have.

A judge that sees both videos in one request (a pairwise profile, e.g. ``unifiedreward-video``) is asked both
ways, (a, b) and (b, a) (record ids ``ID:ab`` and ``ID:ba``); :func:`judge_verdict_pairs` combines the two answers
with :func:`aigve.core.stats.order_consistent_preference`: a preference that flips with the order is a tie, and
counted as inconsistent.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigve.aspects import ASPECT_KEYS, canonical_key
from aigve.core import stats as S
from aigve.errors import InputError

LABELS = {"a": 1, "b": -1, "tie": 0}
OVERALL = "overall"


@dataclass(frozen=True)
class Pair:
    """One comparison; ``a_id``/``b_id``: ids of the two videos' results records. ``labels``: aspect (or
    ``overall``) -> 1 (a), -1 (b), 0 (tie)."""

    id: str
    prompt: str
    a: str
    b: str
    a_id: str
    b_id: str
    labels: dict[str, int]
    row: int


def _rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return [(n, {(k or "").strip(): v for k, v in r.items()}) for n, r in enumerate(csv.DictReader(fh), 2)]
    from aigve.annotations import jsonl_objects

    return list(jsonl_objects(path, path.read_text(encoding="utf-8")))


def _label(value: Any, path: Path, row: int, column: str) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    if text not in LABELS:
        raise InputError(path, f"{column} must be a, b or tie, got {value!r}", row=row)
    return LABELS[text]


def read_pairs(path: str | os.PathLike) -> tuple[list[Pair], dict[str, tuple[str, str]]]:
    """Pairs and the videos to score: ``{video id: (absolute video path, prompt)}``. A video that appears in
    several pairs with the same prompt is scored once. Raises InputError naming file and row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "pairs manifest not found")
    base = path.parent.resolve()
    videos: dict[tuple[str, str], str] = {}
    taken: set[str] = set()

    def vid(video: str, prompt: str) -> str:
        full = str((base / video).resolve()) if not Path(video).is_absolute() else video
        key = (full, prompt)
        if key not in videos:
            stem, n = Path(video).with_suffix("").as_posix().replace("/", "__"), 1
            name = stem
            while name in taken:
                n += 1
                name = f"{stem}-{n}"
            taken.add(name)
            videos[key] = name
        return videos[key]

    pairs = []
    for row, rec in _rows(path):
        missing = [c for c in ("a", "b", "prompt") if not str(rec.get(c) or "").strip()]
        if missing:
            raise InputError(path, f"missing {', '.join(missing)} (columns: a, b, prompt, optional id, label)", row=row)
        prompt = str(rec["prompt"]).strip()
        labels = {}
        for col, value in rec.items():
            if col == "label":
                key = OVERALL
            elif str(col).startswith("label_"):
                key = canonical_key(str(col)[6:]) or str(col)[6:]
            else:
                continue
            lab = _label(value, path, row, col)
            if lab is not None:
                labels[key] = lab
        a, b = str(rec["a"]).strip(), str(rec["b"]).strip()
        pairs.append(Pair(str(rec.get("id") or f"pair{len(pairs) + 1}"), prompt, a, b, vid(a, prompt), vid(b, prompt),
                          labels, row))
    if not pairs:
        raise InputError(path, "no pairs found")
    return pairs, {name: key for key, name in videos.items()}


def video_scores(records: Sequence[dict[str, Any]], kind: str) -> dict[str, dict[str, float]]:
    """``{record id: {aspect: score}}`` from results records (``expected`` or ``integer`` scores), with
    ``overall`` filled by the mean of the scored aspects when the judge gives no overall score."""
    out = {}
    for rec in records:
        if rec.get("error"):
            continue
        src = rec.get("expected_scores") if kind == "expected" else rec.get("scores")
        scores = {canonical_key(k) or k: float(v) for k, v in (src or {}).items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if scores and OVERALL not in scores:
            scores[OVERALL] = sum(scores.values()) / len(scores)
        out[str(rec.get("id"))] = scores
    return out


def preference(delta: float | None, tie_margin: float) -> str | None:
    """``a``/``b``/``tie`` from ``score_a - score_b``; None when either video is unscored."""
    if delta is None:
        return None
    return "a" if delta > tie_margin else ("b" if delta < -tie_margin else "tie")


def judge_pairs(pairs: Sequence[Pair], scores: dict[str, dict[str, float]], *, tie_margin: float = 0.0
                ) -> list[dict[str, Any]]:
    """Per pair and aspect: the two scores, their difference and the preferred video."""
    aspects = [k for k in ASPECT_KEYS if any(k in s for s in scores.values())]
    rows = []
    for p in pairs:
        sa, sb = scores.get(p.a_id, {}), scores.get(p.b_id, {})
        by_aspect = {}
        for k in aspects:
            d = sa[k] - sb[k] if k in sa and k in sb else None
            by_aspect[k] = {"a": sa.get(k), "b": sb.get(k), "delta": d, "preferred": preference(d, tie_margin)}
        rows.append({"id": p.id, "prompt": p.prompt, "a": p.a, "b": p.b, "a_id": p.a_id, "b_id": p.b_id,
                     "labels": {k: next(n for n, v in LABELS.items() if v == lab) for k, lab in p.labels.items()},
                     "aspects": by_aspect})
    return rows


#: The suffixes of a pairwise judge's two records per pair: shown (a, b), then (b, a).
ORDERS = ("ab", "ba")
_SIDE = {"a": 1, "b": -1, "same": 0}


def order_items(pairs: Sequence[Pair], videos: dict[str, tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """``(record id, first video, second video, prompt)`` for a judge shown both videos: each pair both ways."""
    out = []
    for p in pairs:
        a, b = videos[p.a_id][0], videos[p.b_id][0]
        out += [(f"{p.id}:ab", a, b, p.prompt), (f"{p.id}:ba", b, a, p.prompt)]
    return out


def judge_verdict_pairs(pairs: Sequence[Pair], records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per pair, a pairwise judge's answers in both orders (records ``ID:ab``/``ID:ba`` with ``preference``)
    combined per dimension: ``delta`` is the combined preference (1 a, -1 b, 0 tie), ``consistent`` whether the
    two orders agree, ``orders`` what each said. A dimension missing from either answer is unjudged (None)."""
    from aigve.core.stats import order_consistent_preference

    by_id = {str(r.get("id")): r for r in records if not r.get("error")}
    rows = []
    for p in pairs:
        fwd, bwd = (by_id.get(f"{p.id}:{o}", {}).get("preference") or {} for o in ORDERS)
        by_aspect = {}
        for k in sorted({*fwd, *bwd}, key=lambda k: (k != OVERALL, k)):
            f, b = _SIDE.get(str(fwd.get(k)).lower()), _SIDE.get(str(bwd.get(k)).lower())
            if f is None or b is None:
                by_aspect[k] = {"delta": None, "preferred": None, "consistent": None,
                                "orders": {"ab": fwd.get(k), "ba": bwd.get(k)}}
                continue
            side, consistent = order_consistent_preference(f, b)
            by_aspect[k] = {"delta": float(side), "preferred": preference(float(side), 0.0), "consistent": consistent,
                            "orders": {"ab": fwd[k], "ba": bwd[k]}}
        rows.append({"id": p.id, "prompt": p.prompt, "a": p.a, "b": p.b, "a_id": p.a_id, "b_id": p.b_id,
                     "labels": {k: next(n for n, v in LABELS.items() if v == lab) for k, lab in p.labels.items()},
                     "aspects": by_aspect})
    return rows


def accuracy(judged: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per labelled aspect (``overall`` for the ``label`` column): accuracy with ties (tie-calibrated, with
    the chosen epsilon and the counts) and without ties, over the pairs both scored and labelled."""
    out = {}
    keys = sorted({k for r in judged for k in r["labels"]}, key=lambda k: (k != OVERALL, k))
    for key in keys:
        h, d, verdicts = [], [], False
        for r in judged:
            cell = r["aspects"].get(key)
            if key in r["labels"] and cell and cell["delta"] is not None:
                h.append(LABELS[r["labels"][key]])
                d.append(cell["delta"])
                verdicts = verdicts or "consistent" in cell
        if verdicts:  # a judge's own a/b/tie: plain agreement; a threshold over labels would tune nothing real
            with_ties = float(sum(x == y for x, y in zip(h, d, strict=True)) / len(h)) if h else None
            out[key] = {"n": len(h), "n_human_ties": sum(x == 0 for x in h), "accuracy_with_ties": with_ties,
                        "epsilon": None, "counts": None,
                        "accuracy_without_ties": S.accuracy_without_ties(h, d) if h else None}
            continue
        tc = S.tie_calibrated_accuracy(h, d)
        out[key] = {"n": len(h), "n_human_ties": sum(x == 0 for x in h),
                    "accuracy_with_ties": tc.accuracy, "epsilon": tc.epsilon,
                    "counts": None if tc.counts is None else vars(tc.counts),
                    "accuracy_without_ties": S.accuracy_without_ties(h, d) if h else None}
    return out


def summary(judged: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per aspect: how many pairs prefer a, b, tie, or could not be judged (a video unscored)."""
    out: dict[str, dict[str, int]] = {}
    for r in judged:
        for k, cell in r["aspects"].items():
            counts = out.setdefault(k, {"a": 0, "b": 0, "tie": 0, "unscored": 0})
            counts[cell["preferred"] or "unscored"] += 1
    return out


def write_pairwise(pairs: Sequence[Pair], records: Sequence[dict[str, Any]], out_dir: str | os.PathLike, *,
                   tie_margin: float = 0.0, score_kind: str = "auto") -> dict[str, Any]:
    """Judge the pairs from the per-video ``records`` and write pairwise.json, pairwise.csv, pairwise.md."""
    from aigve.report.blocks import Block, num
    from aigve.report.lb_data import Item, choose_score_kind
    from aigve.report.render import to_markdown, write_json

    as_items = [Item(str(r.get("id")), "-", "-", None, "-", {} if r.get("error") else
                     {k: 1.0 for k, v in (r.get("scores") or {}).items() if v is not None},
                     {k: 1.0 for k, v in (r.get("expected_scores") or {}).items() if v is not None},
                     error=r.get("error") and "error") for r in records]
    verdicts = any(r.get("preference") is not None for r in records)
    if verdicts:  # a judge shown both videos: its own answers, asked both ways
        kind = "verdict"
        judged = judge_verdict_pairs(pairs, records)
        flips = sum(1 for r in judged for c in r["aspects"].values() if c["consistent"] is False)
        notes = ["the judge saw both videos in one request and was asked both ways, (a, b) then (b, a); a "
                 "preference that flips with the order counts as a tie "
                 f"(aigve.core.stats.order_consistent_preference): {flips} inconsistent answer(s)",
                 "with ties: the combined verdict's ties are the judge's own (tie-calibration has nothing to tune)"]
    else:
        kind = choose_score_kind(as_items, score_kind)
        judged = judge_pairs(pairs, video_scores(records, kind), tie_margin=tie_margin)
        notes = ["each video is scored on its own, so the order of a and b cannot change a preference",
                 "overall: the judge's overall aspect, else the mean of the aspects it scores"]
    result = {"score_kind": kind, "score_kind_requested": score_kind, "tie_margin": tie_margin,
              "n_pairs": len(pairs), "summary": summary(judged), "accuracy": accuracy(judged), "pairs": judged,
              "notes": notes}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(result, out / "pairwise.json")
    aspects = list(result["summary"])
    with open(out / "pairwise.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "prompt", "a", "b", "label", *(f"{k}_{x}" for k in aspects for x in ("delta", "preferred"))])
        for r in judged:
            w.writerow([r["id"], r["prompt"], r["a"], r["b"], r["labels"].get(OVERALL, ""),
                        *(v for k in aspects for v in ("" if r["aspects"][k]["delta"] is None else
                                                        r["aspects"][k]["delta"], r["aspects"][k]["preferred"] or ""))])
    blocks = [Block("h", "aigve pairwise preferences", level=1),
              Block("p", f"{len(pairs)} pairs; compared on {kind} scores; tie margin {tie_margin:g}."),
              Block("list", items=result["notes"]),
              Block("h", "Preferences"),
              Block("table", headers=["aspect", "a", "b", "tie", "unscored"],
                    rows=[[k, *(str(v[x]) for x in ("a", "b", "tie", "unscored"))] for k, v in result["summary"].items()])]
    if result["accuracy"]:
        blocks += [Block("h", "Accuracy against the labels"),
                   Block("p", "with ties: tie-calibrated accuracy (Deutsch et al. 2023) (C + T_hm) / all, maximised "
                              "over the model's tie threshold epsilon on |score_a - score_b|; without ties: "
                              "C / (C + D + T_m) over the pairs humans did not tie (a model tie counts as wrong)."),
                   Block("table", headers=["aspect", "n", "human ties", "with ties", "epsilon", "without ties"],
                         rows=[[k, str(a["n"]), str(a["n_human_ties"]), num(a["accuracy_with_ties"]),
                                num(a["epsilon"]), num(a["accuracy_without_ties"])] for k, a in result["accuracy"].items()])]
    (out / "pairwise.md").write_text(to_markdown(blocks), encoding="utf-8")
    return result
